// map: the value in upper case, keyed by its first word; a value containing "fail" is an error.
include!("sm.rs");

#[no_mangle]
pub extern "C" fn map(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 1, &mut |rec, _| {
        if rec.value.windows(4).any(|w| w == b"fail") {
            return Err(format!("cannot map a record that says fail ({} bytes)", rec.value.len()));
        }
        let upper = rec.value.to_ascii_uppercase();
        let key = upper.split(|b| *b == b' ').next().unwrap_or(&[]).to_vec();
        Ok(vec![(Some(key), upper)])
    })
}
