use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// One stored block, as the router would receive it.
pub struct KvEvent {
    pub id: u64,
    pub block_hash: u64,
}

/// Hash of a block of token ids (the same on every worker, so routers can compare them).
#[pyfunction]
pub fn block_hash(tokens: Vec<u32>) -> u64 {
    tokens.iter().fold(0xcbf29ce484222325, |h, t| (h ^ *t as u64).wrapping_mul(0x100000001b3))
}

/// Publishes KV events; Python hands it the callable that receives them.
#[pyclass]
pub struct EventPublisher {
    listener: PyObject,
    next_id: u64,
}

#[pymethods]
impl EventPublisher {
    #[new]
    fn new(listener: PyObject) -> Self {
        EventPublisher { listener, next_id: 0 }
    }

    /// Record a stored block and publish it.
    fn block_stored(&mut self, py: Python<'_>, tokens: Vec<u32>) -> PyResult<u64> {
        if tokens.is_empty() {
            return Err(PyValueError::new_err("an empty block has no hash"));
        }
        let event = KvEvent { id: self.next_id, block_hash: block_hash(tokens) };
        self.next_id += 1;
        self.publish(py, event)
    }
}

impl EventPublisher {
    fn publish(&self, py: Python<'_>, event: KvEvent) -> PyResult<u64> {
        self.listener.call1(py, (event.id, event.block_hash))?;
        Ok(event.block_hash)
    }
}
