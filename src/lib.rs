//! sflow: compiles sflow workflows (YAML) into one self-contained Slurm batch script.
//! Input: workflow files and command-line options. Output: a bash script, a plan, or
//! diagnostics. Guarantee: the compiler is a pure function of its inputs; only `cli`
//! touches files, the environment and the clock.

pub mod diagnostic;
pub mod expr;
pub mod load;
pub mod source;
