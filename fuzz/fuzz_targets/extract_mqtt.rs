#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tracebound_fuzz_harness::extract_mqtt(data));
