// filter with init: keeps the records that contain the `key` parameter (required: "Missing param key"),
// as Fluvio's filter_init example does. `-e ignore_case=true` compares in lower case.
include!("sm.rs");

static mut NEEDLE: Vec<u8> = Vec::new();
static mut IGNORE_CASE: bool = false;

#[no_mangle]
pub extern "C" fn init(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    let (params, _) = decode_params(ptr, len);
    match params.get("key") {
        Some(key) => {
            unsafe {
                IGNORE_CASE = params.get("ignore_case").map(|v| v == "true").unwrap_or(false);
                NEEDLE = if IGNORE_CASE { key.to_lowercase().into_bytes() } else { key.clone().into_bytes() };
            }
            0
        }
        None => init_error("Missing param key"),
    }
}

#[no_mangle]
pub extern "C" fn filter(ptr: *mut u8, len: usize, _version: i16) -> i32 {
    transform(ptr, len, 0, &mut |rec, _| {
        let needle = unsafe { &NEEDLE };
        let value = if unsafe { IGNORE_CASE } { rec.value.to_ascii_lowercase() } else { rec.value.clone() };
        let keep = needle.is_empty() || value.windows(needle.len()).any(|w| w == needle.as_slice());
        Ok(if keep { vec![(rec.key.clone(), rec.value.clone())] } else { vec![] })
    })
}
