//! What the engine learns about the network: the profile of each request (WeChat's timing
//! fields), the network-quality estimator, and Alt-Svc advertisements of HTTP/3. Built from the
//! facts the transport reports.

pub(crate) mod altsvc;
pub(crate) mod nqe;
pub(crate) mod profile;

pub use altsvc::AltSvcEntry;
pub use nqe::{
    EffectiveConnectionType, Estimates, EstimatorState, Observation,
    STATE_VERSION as ESTIMATOR_STATE_VERSION,
};
pub use profile::{Hop, HopTimings, Profile};
