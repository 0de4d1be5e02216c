//! Every limit and default in keel, with the reason for its value.
//!
//! A limit that is not here does not exist: code that bounds a queue, a buffer, a frame or a
//! retry takes its bound from this module, so the bounds of the whole system can be read (and
//! argued about) in one place. Relations between limits are checked at compile time with
//! `const` assertions at the bottom of each section.
