//! Data drift between a reference and a current sample of one column, and over a whole table,
//! computed as scipy and Evidently 0.7 compute it, with everything an inspector needs to
//! reproduce each figure.

pub mod kolmogorov;
