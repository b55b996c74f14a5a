// map that traps on purpose: "unreachable" panics (an unreachable instruction with panic=abort),
// "oob" reads far outside memory, "deep" recurses until the stack overflows; others pass unchanged.
include!("sm.rs");

static mut SINK: u64 = 0;

// Small frames that live on the WebAssembly call stack (not in linear memory), so the engine's own
// stack limit is what stops it; the volatile write after the call keeps it from becoming a loop.
#[inline(never)]
fn deep(n: u64) -> u64 {
    let r = deep(n + 1);
    unsafe { std::ptr::write_volatile(&mut SINK, r) };
    r ^ n
}

#[no_mangle]
pub extern "C" fn map(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 1, &mut |rec, _| {
        match rec.value.as_slice() {
            b"unreachable" => panic!("asked to trap"),
            b"oob" => {
                let far = 0xFFFF_FFF0usize as *const u64;
                let v = unsafe { std::ptr::read_volatile(far) };
                Ok(vec![(None, format!("{}", v).into_bytes())])
            }
            b"deep" => Ok(vec![(None, format!("{}", deep(0)).into_bytes())]),
            _ => Ok(vec![(rec.key.clone(), rec.value.clone())]),
        }
    })
}
