//! [`Probe`]: a program wrapper that records what happened to a program's connections
//! and hands out the address it listens on, for tests that cannot look inside a
//! running program (real TCP, turmoil).

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::host::{ConnId, ConnectError, HostContext, ListenerId, Program};
use crate::transport::Disconnect;

/// How one connection ended, with what the probe's measure said about it just before.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ended<S> {
    /// The connection.
    pub conn: ConnId,
    /// How it ended.
    pub reason: Disconnect,
    /// What [`Probe::measure`] returned for it (`()` without one).
    pub measured: S,
}

/// What a [`Probe`] records of a connection as it ends.
type Measure<P, S> = Box<dyn FnMut(&P, ConnId) -> S>;

/// A shared, ordered log of lines from the programs of one test (they run on one
/// thread, so its order is the order of events).
pub type SharedLog = Rc<RefCell<Vec<String>>>;

/// Where a probed program listens, as soon as it is bound: a handle to keep before the
/// program is moved into its [`Host`](crate::host::Host).
#[derive(Clone, Debug, Default)]
pub struct ListenAddress(Rc<RefCell<AddressSlot>>);

#[derive(Debug, Default)]
struct AddressSlot {
    addr: Option<SocketAddr>,
    waiting: Vec<Waker>,
}

impl ListenAddress {
    /// The address, if the program is listening.
    pub fn get(&self) -> Option<SocketAddr> {
        self.0.borrow().addr
    }

    /// Waits until the program listens and returns the address (the real port, if 0
    /// was asked for). Any executor will do; it needs no runtime of its own.
    pub fn wait(&self) -> impl Future<Output = SocketAddr> + '_ {
        poll_fn(|cx| {
            let mut slot = self.0.borrow_mut();
            match slot.addr {
                Some(addr) => Poll::Ready(addr),
                None => {
                    slot.waiting.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
    }

    fn set(&self, addr: SocketAddr) {
        let mut slot = self.0.borrow_mut();
        if slot.addr.is_none() {
            slot.addr = Some(addr);
            slot.waiting.drain(..).for_each(Waker::wake);
        }
    }
}

/// Wraps a program, forwarding every callback, and records how each connection ended,
/// every connect failure and the first listening address; optionally exits once a
/// number of connections have ended, and logs producer pauses and resumes.
///
/// A real-TCP test of a server on port 0, with a client connecting once it listens:
///
/// ```
/// use weft::host::{FactoryProgram, Host, HostPort};
/// use weft::net::{Tokio, run_on};
/// use weft::programs::pingpong::PingPongFactory;
/// use weft::testing::Probe;
///
/// let server = FactoryProgram::new(PingPongFactory::server(None))
///     .listen(HostPort::new("127.0.0.1", 0));
/// let server = Probe::new(server).exit_after(1);
/// let address = server.address();
/// let mut server = Host::new(server);
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let (server_code, client_code) = runtime.block_on(async {
///     let client = async {
///         let to = HostPort::from(address.wait().await);
///         let client = FactoryProgram::new(PingPongFactory::client(Some(10)))
///             .connect(to)
///             .exit_when_done();
///         let (mut client, mut lines) = (Host::new(client), Vec::new());
///         run_on(Tokio, &mut client, &mut lines).await
///     };
///     let mut lines = Vec::new();
///     tokio::join!(run_on(Tokio, &mut server, &mut lines), client)
/// });
/// assert_eq!((server_code, client_code), (0, 0));
/// assert_eq!(server.program().ended().len(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Probe<P: Program, S = ()> {
    inner: P,
    ended: Vec<Ended<S>>,
    failed: Vec<ConnectError>,
    address: ListenAddress,
    exit_after: Option<usize>,
    measure: Measure<P, S>,
    producer_log: Option<SharedLog>,
}

impl<P: Program> Probe<P> {
    /// Probes `inner`.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            ended: Vec::new(),
            failed: Vec::new(),
            address: ListenAddress::default(),
            exit_after: None,
            measure: Box::new(|_, _| ()),
            producer_log: None,
        }
    }
}

impl<P: Program, S> Probe<P, S> {
    /// Also records, for every connection as it ends (before the program hears of it),
    /// what `measure` says of the program and that connection: the bytes a protocol
    /// counted, say, with [`FactoryProgram::protocol`](crate::host::FactoryProgram::protocol).
    pub fn measure<T>(self, measure: impl FnMut(&P, ConnId) -> T + 'static) -> Probe<P, T> {
        Probe {
            inner: self.inner,
            ended: Vec::new(),
            failed: self.failed,
            address: self.address,
            exit_after: self.exit_after,
            measure: Box::new(measure),
            producer_log: self.producer_log,
        }
    }

    /// Exits with status 0 once `n` connections have ended.
    pub fn exit_after(mut self, n: usize) -> Self {
        self.exit_after = Some(n);
        self
    }

    /// Logs `producer paused` and `producer resumed` into `log`, in order with what
    /// other programs of the test log there.
    pub fn log_producer_to(mut self, log: SharedLog) -> Self {
        self.producer_log = Some(log);
        self
    }

    /// A handle to the listening address, to keep before the probe moves into a host.
    pub fn address(&self) -> ListenAddress {
        self.address.clone()
    }

    /// The first address the program listened on.
    pub fn listening(&self) -> Option<SocketAddr> {
        self.address.get()
    }

    /// The connections that ended, in order.
    pub fn ended(&self) -> &[Ended<S>] {
        &self.ended
    }

    /// The connect failures, in order.
    pub fn failed(&self) -> &[ConnectError] {
        &self.failed
    }

    /// The probed program.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    fn log(&self, line: &str) {
        if let Some(log) = &self.producer_log {
            log.borrow_mut().push(line.to_owned());
        }
    }
}

impl<P: Program, S> Program for Probe<P, S> {
    type Timer = P::Timer;

    fn start(&mut self, cx: &mut HostContext<'_, Self::Timer>) {
        self.inner.start(cx);
    }

    fn connection_made(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.inner.connection_made(cx, conn);
    }

    fn data_received(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId, data: &[u8]) {
        self.inner.data_received(cx, conn, data);
    }

    fn read_connection_lost(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.inner.read_connection_lost(cx, conn);
    }

    fn connection_lost(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        conn: ConnId,
        reason: Disconnect,
    ) {
        let measured = (self.measure)(&self.inner, conn);
        self.ended.push(Ended {
            conn,
            reason,
            measured,
        });
        self.inner.connection_lost(cx, conn, reason);
        if self.exit_after == Some(self.ended.len()) {
            cx.exit(0);
        }
    }

    fn connect_failed(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        conn: ConnId,
        error: ConnectError,
    ) {
        self.failed.push(error.clone());
        self.inner.connect_failed(cx, conn, error);
    }

    fn listening(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        listener: ListenerId,
        addr: SocketAddr,
    ) {
        self.address.set(addr);
        self.inner.listening(cx, listener, addr);
    }

    fn listen_failed(
        &mut self,
        cx: &mut HostContext<'_, Self::Timer>,
        listener: ListenerId,
        error: crate::host::ListenError,
    ) {
        self.inner.listen_failed(cx, listener, error);
    }

    fn timer_fired(&mut self, cx: &mut HostContext<'_, Self::Timer>, timer: Self::Timer) {
        self.inner.timer_fired(cx, timer);
    }

    fn pause_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.log("producer paused");
        self.inner.pause_producing(cx, conn);
    }

    fn resume_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.log("producer resumed");
        self.inner.resume_producing(cx, conn);
    }

    fn stop_producing(&mut self, cx: &mut HostContext<'_, Self::Timer>, conn: ConnId) {
        self.inner.stop_producing(cx, conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listen_address_wakes_whoever_waits_for_it() {
        let address = ListenAddress::default();
        let woken = std::sync::Arc::new(Flag::default());
        let waker = Waker::from(woken.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut wait = std::pin::pin!(address.wait());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        address.set(addr);
        assert!(woken.0.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(addr));
        address.set("127.0.0.1:1".parse().unwrap());
        assert_eq!(address.get(), Some(addr), "the first address stays");
    }

    #[derive(Default)]
    struct Flag(std::sync::atomic::AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
