;; A module with Fluvio's exports but a two-argument filter(ptr, len): an ABI this host does not speak.
(module
  (import "env" "copy_records" (func $copy (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "filter") (param i32 i32) (result i32) (i32.const 0)))
