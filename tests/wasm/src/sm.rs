// A minimal guest side of Fluvio's SmartModule ABI (version 22), without crates, shared by the
// test fixtures through `include!`. It mirrors what `fluvio-smartmodule-derive` generates: decode the
// input, call the transform per record, stop at the first error (reported in the output's error
// field), encode `SmartModuleOutput` and hand it over with `copy_records`.
use std::collections::BTreeMap;

extern "C" {
    fn copy_records(ptr: i32, len: i32);
}

#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

pub struct Rec {
    pub delta: i64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
}

pub type Out = Result<Vec<(Option<Vec<u8>>, Vec<u8>)>, String>;

struct Cur<'a> {
    d: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.d[self.p..self.p + n];
        self.p += n;
        s
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> usize {
        let s = self.take(2);
        ((s[0] as usize) << 8) | s[1] as usize
    }
    fn u32(&mut self) -> usize {
        let s = self.take(4);
        u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize
    }
    fn i64(&mut self) -> i64 {
        let s = self.take(8);
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        i64::from_be_bytes(b)
    }
    fn varint(&mut self) -> i64 {
        let mut num: i64 = 0;
        let mut shift = 0;
        loop {
            let b = self.u8();
            num |= ((b & 0x7f) as i64) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        (num >> 1) ^ -(num & 1)
    }
    fn data(&mut self) -> Vec<u8> {
        let n = self.varint() as usize;
        self.take(n).to_vec()
    }
    fn string(&mut self) -> String {
        let n = self.u16();
        String::from_utf8_lossy(self.take(n)).into_owned()
    }
}

fn put_varint(out: &mut Vec<u8>, num: i64) {
    let mut v = (num << 1) ^ (num >> 31);
    while (v & 0xffffff80) != 0 {
        out.push(((v & 0x7f) | 0x80) as u8);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_data(out: &mut Vec<u8>, d: &[u8]) {
    put_varint(out, d.len() as i64);
    out.extend_from_slice(d);
}

/// (base offset, records, accumulator when `aggregate`)
fn decode_input(data: &[u8], aggregate: bool) -> (i64, Vec<Rec>, Vec<u8>) {
    let mut c = Cur { d: data, p: 0 };
    let base = c.i64();
    let raw_len = c.u32();
    let raw = c.take(raw_len);
    let n = c.u16(); // deprecated params: an empty map ...
    for _ in 0..n {
        c.string();
        c.string();
    }
    if c.u8() == 1 { // ... and its lookback
        c.take(8);
        if c.u8() == 1 {
            c.take(12);
        }
    }
    let join = c.u32();
    c.take(join);
    let _base_timestamp = c.i64();
    let acc = if aggregate { let n = c.u32(); c.take(n).to_vec() } else { Vec::new() };
    let mut r = Cur { d: raw, p: 0 };
    let count = r.u32();
    let mut recs = Vec::with_capacity(count);
    for _ in 0..count {
        let _len = r.varint();
        r.u8();
        r.varint();
        let delta = r.varint();
        let key = if r.u8() == 1 { Some(r.data()) } else { None };
        let value = r.data();
        r.varint();
        recs.push(Rec { delta, key, value });
    }
    (base, recs, acc)
}

fn put_record(out: &mut Vec<u8>, delta: i64, key: &Option<Vec<u8>>, value: &[u8]) {
    let mut inner = vec![0u8];
    put_varint(&mut inner, 0);
    put_varint(&mut inner, delta);
    match key {
        Some(k) => {
            inner.push(1);
            put_data(&mut inner, k);
        }
        None => inner.push(0),
    }
    put_data(&mut inner, value);
    put_varint(&mut inner, 0);
    put_varint(out, inner.len() as i64);
    out.extend_from_slice(&inner);
}

fn hand_over(out: Vec<u8>) {
    let len = out.len();
    let ptr = out.as_ptr();
    std::mem::forget(out);
    unsafe { copy_records(ptr as i32, len as i32) };
}

/// The body of a transform export. `kind` is Fluvio's SmartModuleKind tag (0 filter, 1 map,
/// 2 array_map, 3 aggregate, 4 filter_map); array_map outputs carry offset delta 0, as Fluvio's do.
pub fn transform(ptr: *mut u8, len: usize, kind: u8, f: &mut dyn FnMut(&Rec, &mut Vec<u8>) -> Out) -> i32 {
    let input = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let (base, recs, mut acc) = decode_input(&input, kind == 3);
    let mut body = Vec::new();
    let mut count = 0u32;
    let mut error: Option<(String, &Rec)> = None;
    for rec in recs.iter() {
        match f(rec, &mut acc) {
            Ok(outs) => {
                for (k, v) in outs {
                    let delta = if kind == 2 { 0 } else { rec.delta };
                    put_record(&mut body, delta, &k, &v);
                    count += 1;
                }
            }
            Err(hint) => {
                error = Some((hint, rec));
                break;
            }
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&body);
    match error {
        None => out.push(0),
        Some((hint, rec)) => {
            out.push(1);
            out.extend_from_slice(&(hint.len() as u16).to_be_bytes());
            out.extend_from_slice(hint.as_bytes());
            out.extend_from_slice(&(base + rec.delta).to_be_bytes());
            out.push(kind);
            match &rec.key {
                Some(k) => {
                    out.push(1);
                    put_data(&mut out, k);
                }
                None => out.push(0),
            }
            put_data(&mut out, &rec.value);
        }
    }
    if kind == 3 {
        out.extend_from_slice(&(acc.len() as u32).to_be_bytes());
        out.extend_from_slice(&acc);
    }
    hand_over(out);
    count as i32
}

/// The parameters `init` receives: `SmartModuleExtraParams` (the map, then the lookback).
pub fn decode_params(ptr: *mut u8, len: usize) -> (BTreeMap<String, String>, Option<u64>) {
    let input = unsafe { Vec::from_raw_parts(ptr, len, len) };
    let mut c = Cur { d: &input, p: 0 };
    let n = c.u16();
    let mut map = BTreeMap::new();
    for _ in 0..n {
        let k = c.string();
        let v = c.string();
        map.insert(k, v);
    }
    let last = if c.u8() == 1 { Some(c.i64() as u64) } else { None };
    (map, last)
}

/// An init failure as Fluvio's derive reports it: the hint handed over, status -2 (InitError).
pub fn init_error(hint: &str) -> i32 {
    let mut out = Vec::new();
    out.extend_from_slice(&(hint.len() as u16).to_be_bytes());
    out.extend_from_slice(hint.as_bytes());
    hand_over(out);
    -2
}

pub fn lookback_records(ptr: *mut u8, len: usize) -> Vec<Rec> {
    let input = unsafe { Vec::from_raw_parts(ptr, len, len) };
    decode_input(&input, false).1
}
