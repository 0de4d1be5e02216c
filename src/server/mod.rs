//! The network edge of a node: the only code that names mio.
//!
//! - [`inbound`]: an accepted connection; frames in, responses out in request order, bounded
//!   buffers and in-flight requests.
//! - [`outbound`]: a connection this node opens to a peer; requests out, responses matched by
//!   correlation id, timeouts, reconnects with exponential backoff and jitter.
//!
//! Both are driven by the event loop: they never block, never spawn, and never allocate beyond
//! one frame per connection plus the responses owed to it.

pub mod inbound;
pub mod outbound;
