// map built for wasm32-wasi: prints each value to stdout and a note to stderr, returns it unchanged.
include!("sm.rs");

#[no_mangle]
pub extern "C" fn map(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 1, &mut |rec, _| {
        println!("wasi stdout: {}", String::from_utf8_lossy(&rec.value));
        eprintln!("wasi stderr: {} bytes", rec.value.len());
        Ok(vec![(rec.key.clone(), rec.value.clone())])
    })
}
