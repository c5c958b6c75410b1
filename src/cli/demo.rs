//! `recap demo`: the main job on built-in synthetic data.

use clap::Args;

use crate::error::Result;

/// Options of `recap demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Random seed for the synthetic data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Run the demo.
pub fn run(_args: DemoArgs) -> Result<()> {
    println!("recap demo: pipeline pieces land with their issues");
    Ok(())
}
