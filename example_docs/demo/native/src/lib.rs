//! `tinyserve._native`: the demo's Rust extension module. It hashes the token blocks the radix cache
//! stores into KV events and tells a Python listener about each one.
use pyo3::prelude::*;

mod publisher;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<publisher::EventPublisher>()?;
    m.add_function(wrap_pyfunction!(publisher::block_hash, m)?)?;
    Ok(())
}
