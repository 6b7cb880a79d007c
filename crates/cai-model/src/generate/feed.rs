//! Where the engine's continuous batch gets its sequences and sends its results: a [`Feed`]. A
//! list of requests known up front ([`Engine::generate`](super::Engine::generate)) is one; the
//! server's queue, taking requests in while others decode, is another.

use std::collections::VecDeque;

use super::{Generation, SamplingParams, StreamDelta};

/// A sequence to start: its checked prompt ids ([`Engine::prepare`](super::Engine::prepare)) and
/// sampling parameters, and the index its deltas and result carry.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The index of this sequence's [`StreamDelta`]s and [`Feed::finished`] call.
    pub index: usize,
    /// Prompt token ids.
    pub prompt: Vec<u32>,
    /// How to sample.
    pub params: SamplingParams,
}

/// The running batch as a [`Feed`] sees it when asked for more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Running {
    /// Rows decoding now.
    pub rows: usize,
    /// Key/value slots each row holds now (padding included).
    pub slots: usize,
    /// The most tokens any row may still feed to the cache.
    pub most_feeds: usize,
}

impl Running {
    /// Whether nothing is running (a feed may then wait for work).
    pub fn is_idle(&self) -> bool {
        self.rows == 0
    }

    /// Slots a row of the batch may grow to: what it holds plus the most it may still feed.
    pub fn row_slots(&self) -> usize {
        self.slots + self.most_feeds
    }
}

/// The source and sink of a continuous batch ([`Engine::run`](super::Engine::run)).
pub trait Feed {
    /// Up to `room` more sequences to start now, given what is `running`. Returning none while
    /// nothing runs ends the run, so a feed serving clients waits here for work when idle.
    fn admit(&mut self, room: usize, running: &Running) -> Vec<Admission>;
    /// New final text of a sequence.
    fn delta(&mut self, delta: StreamDelta);
    /// A sequence is done (finished, or cancelled with what it had so far).
    fn finished(&mut self, index: usize, generation: Generation);
    /// Whether a sequence should stop now (its client has gone, say).
    fn cancelled(&self, index: usize) -> bool;
}

/// A [`Feed`] of requests known up front, collecting the results in order.
pub(crate) struct ListFeed<'a> {
    pub waiting: VecDeque<Admission>,
    pub results: Vec<Option<Generation>>,
    pub on_delta: &'a mut dyn FnMut(StreamDelta),
    pub cancelled: &'a dyn Fn(usize) -> bool,
    pub on_done: &'a mut dyn FnMut(usize),
}

impl Feed for ListFeed<'_> {
    fn admit(&mut self, room: usize, _running: &Running) -> Vec<Admission> {
        let n = room.min(self.waiting.len());
        self.waiting.drain(..n).collect()
    }

    fn delta(&mut self, delta: StreamDelta) {
        (self.on_delta)(delta);
    }

    fn finished(&mut self, index: usize, generation: Generation) {
        self.results[index] = Some(generation);
        (self.on_done)(index);
    }

    fn cancelled(&self, index: usize) -> bool {
        (self.cancelled)(index)
    }
}
