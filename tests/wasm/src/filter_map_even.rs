// filter_map: records holding an even integer, halved; the others are dropped.
include!("sm.rs");

#[no_mangle]
pub extern "C" fn filter_map(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 4, &mut |rec, _| {
        let text = String::from_utf8_lossy(&rec.value);
        Ok(match text.trim().parse::<i64>() {
            Ok(n) if n % 2 == 0 => vec![(None, format!("{}", n / 2).into_bytes())],
            _ => vec![],
        })
    })
}
