//! What the manifest records of a cell's output agreement with the same cell
//! on the reference backend (`crate::agreement` computes it).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Agreement {
    /// The reference cell's id.
    pub reference: String,
    /// Tokens compared: the shorter of the two first measured runs.
    pub compared: usize,
    /// Leading tokens that are identical.
    pub matching_prefix: usize,
    /// Where the outputs first differ, if they do.
    pub first_divergence: Option<Divergence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Divergence {
    /// 0-based position in the generated tokens.
    pub index: usize,
    pub reference_token: u32,
    pub token: u32,
}
