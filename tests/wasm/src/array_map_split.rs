// array_map: one output per comma-separated part of the value, keyed by its position.
include!("sm.rs");

#[no_mangle]
pub extern "C" fn array_map(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 2, &mut |rec, _| {
        Ok(rec.value.split(|b| *b == b',').enumerate()
            .map(|(i, part)| (Some(format!("{}", i).into_bytes()), part.to_vec())).collect())
    })
}
