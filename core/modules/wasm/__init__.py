"""Fluvio SmartModules compiled to WebAssembly, run with wasmtime: encoding, host, metadata, module."""
