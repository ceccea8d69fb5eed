//! Helpers shared by the test binaries.
#![allow(dead_code)]

/// Asserts an insta snapshot stored in the top-level `snapshots/` folder.
#[macro_export]
macro_rules! assert_snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

pub(crate) mod poetry;
pub(crate) mod proxy;
pub(crate) mod transform;
