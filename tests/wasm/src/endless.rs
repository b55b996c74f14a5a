// map that never returns on the record "loop"; others pass unchanged.
include!("sm.rs");

#[no_mangle]
pub extern "C" fn map(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 1, &mut |rec, _| {
        if rec.value.as_slice() == b"loop" {
            let mut n: u64 = 0;
            loop {
                n = unsafe { std::ptr::read_volatile(&n) } + 1;
            }
        }
        Ok(vec![(rec.key.clone(), rec.value.clone())])
    })
}
