//! A batch run's Parquet files (`steps.parquet`, `summary.parquet`) read from bytes, as the
//! dataset view reads them: the column reader, then the step table built from the columns.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = adalens::batch::parquet::columns_from_bytes(data.to_vec());
});
