//! A deadline on reading request bodies. actix-web's
//! `client_request_timeout` covers only the request head; a client that
//! keeps sending a body a byte at a time would hold a connection (and a
//! handler waiting on its extractor) as long as it likes. This middleware
//! wraps every request body in a stream that fails once
//! [`BODY_DEADLINE`] has passed since the head arrived; the extractor then
//! refuses the request (400) and the connection is closed.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_core::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The whole body must arrive within this time of the request head.
pub const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// A body stream that fails with `TimedOut` after `at`.
struct Deadline {
    inner: Payload,
    at: Instant,
    /// Made on the first poll that has to wait, so a body that is already
    /// buffered costs no timer.
    timer: Option<Pin<Box<Sleep>>>,
    expired: bool,
}

impl Deadline {
    fn new(inner: Payload, within: Duration) -> Self {
        Self {
            inner,
            at: Instant::now() + within,
            timer: None,
            expired: false,
        }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        let at = this.at;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.expired = true;
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "request body not received in time",
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The middleware: puts [`BODY_DEADLINE`] on every request body.
pub async fn body_deadline<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let inner = req.take_payload();
    if !matches!(inner, Payload::None) {
        let wrapped: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(Deadline::new(inner, BODY_DEADLINE));
        req.set_payload(Payload::from(wrapped));
    } else {
        req.set_payload(inner);
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body whose sender never sends.
    struct Silent;

    impl Stream for Silent {
        type Item = Result<Bytes, PayloadError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }

    async fn next(s: &mut Deadline) -> Option<Result<Bytes, PayloadError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
    }

    #[actix_web::test]
    async fn a_stalled_body_fails_at_the_deadline() {
        let silent: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Silent);
        let mut d = Deadline::new(Payload::from(silent), Duration::from_millis(50));
        let started = std::time::Instant::now();
        match next(&mut d).await {
            Some(Err(PayloadError::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(next(&mut d).await.is_none());
    }

    #[actix_web::test]
    async fn a_prompt_body_passes_untouched() {
        let mut d = Deadline::new(
            Payload::from(Bytes::from_static(b"a=1")),
            Duration::from_millis(50),
        );
        assert_eq!(
            next(&mut d).await.unwrap().unwrap(),
            Bytes::from_static(b"a=1")
        );
        assert!(next(&mut d).await.is_none());
        assert!(d.timer.is_none(), "no timer for a body already there");
    }
}
