//! Parts 17 and 18: the get-poetry clients' generator and DeferredList.

use std::future::{Future, ready};
use std::pin::{Pin, pin};

use weft::task::{
    assert_no_result, deferred_list, failure_result_of, result_of, success_result_of,
};

use super::{Log, Oops, boxed, deferred, log_of};

// Parts 17 and 18: the get-poetry clients' generator and DeferredList.

/// Client 7.0's `get_transformed_poem`: a failed download is reported and re-raised; a
/// failed transform is reported and the original poem used.
async fn get_transformed_poem(
    download: impl Future<Output = Result<String, Oops>>,
    xform: impl FnOnce(String) -> Pin<Box<dyn Future<Output = Result<String, Oops>>>>,
    stderr: Log,
) -> Result<String, Oops> {
    let poem = match download.await {
        Ok(poem) => poem,
        Err(error) => {
            stderr
                .borrow_mut()
                .push(format!("The poem download failed: {error}"));
            return Err(error);
        }
    };
    match xform(poem.clone()).await {
        Ok(transformed) => Ok(transformed),
        Err(_) => {
            stderr.borrow_mut().push("Cummingsify failed!".into());
            Ok(poem)
        }
    }
}

#[test]
fn part17_a_failed_transform_falls_back_to_the_original_poem() {
    let stderr = Log::default();
    let mut poem = pin!(get_transformed_poem(
        ready(Ok("A POEM".to_owned())),
        |_| boxed(ready(Err(Oops::Exception))),
        stderr.clone(),
    ));
    assert_eq!(success_result_of(&mut poem), "A POEM");
    assert_eq!(log_of(&stderr), ["Cummingsify failed!"]);
}

#[test]
fn part17_a_failed_download_is_reported_and_raised() {
    let stderr = Log::default();
    let mut poem = pin!(get_transformed_poem(
        ready(Err(Oops::Exception)),
        |p| boxed(ready(Ok(p.to_lowercase()))),
        stderr.clone(),
    ));
    assert_eq!(failure_result_of(&mut poem), Oops::Exception);
    assert_eq!(log_of(&stderr), ["The poem download failed: exception"]);
}

#[test]
fn part18_deferred_list_waits_for_every_download_and_keeps_their_order() {
    let stderr = Log::default();
    let (first, d1) = deferred::<String>();
    let (second, d2) = deferred::<String>();
    let lower = |p: String| boxed(ready(Ok(p.to_lowercase())));
    let mut all = pin!(deferred_list([
        boxed(get_transformed_poem(d1, lower, stderr.clone())),
        boxed(get_transformed_poem(d2, lower, stderr.clone())),
    ]));
    second.send(Ok("SECOND".into())).unwrap();
    assert_no_result(&mut all);
    first.send(Err(Oops::Exception)).unwrap();
    // consumeErrors: the failure is a value in the list, not an unhandled error.
    assert_eq!(
        result_of(&mut all),
        [Err(Oops::Exception), Ok("second".to_owned())]
    );
    assert_eq!(log_of(&stderr), ["The poem download failed: exception"]);
}
