// aggregate: the running sum of the integers in the records (the accumulator is the sum as text);
// a record that is not an integer is an error.
include!("sm.rs");

#[no_mangle]
pub extern "C" fn aggregate(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 3, &mut |rec, acc| {
        let sum: i64 = String::from_utf8_lossy(acc).trim().parse().unwrap_or(0);
        let text = String::from_utf8_lossy(&rec.value);
        let n: i64 = text.trim().parse().map_err(|_| format!("not an integer: {}", text.trim()))?;
        *acc = format!("{}", sum + n).into_bytes();
        Ok(vec![(rec.key.clone(), acc.clone())])
    })
}
