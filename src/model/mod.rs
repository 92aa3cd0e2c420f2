//! The variational model: a Gaussian mixture with a const-generic component capacity
//! (Arenz et al. 2023, §2; docs/algorithm.md §0).

mod chunk;
mod gmm;
mod io;
mod sub;
mod triangular;

pub(crate) use chunk::{CHUNK, Chunk, RowLse, chunk_mixture};
pub(crate) use gmm::{Component, ComponentMut, block_candidates, cholesky};
pub(crate) use triangular::{
    gram_of_lower, gram_of_upper_transpose, lower_inverse, lower_times_transpose, solve_lower_in_place, times,
    times_lower, transpose_times,
};

pub use gmm::Gmm;
pub use sub::SubGmm;
