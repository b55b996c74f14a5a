// map with look_back: counts the records it has seen, the look-back records included, and
// prefixes each value with that count.
include!("sm.rs");

static mut SEEN: u64 = 0;

#[no_mangle]
pub extern "C" fn look_back(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    let recs = lookback_records(ptr, len);
    unsafe { SEEN += recs.len() as u64 };
    0
}

#[no_mangle]
pub extern "C" fn map(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 1, &mut |rec, _| {
        unsafe { SEEN += 1 };
        let mut out = format!("{} ", unsafe { SEEN }).into_bytes();
        out.extend_from_slice(&rec.value);
        Ok(vec![(rec.key.clone(), out)])
    })
}
