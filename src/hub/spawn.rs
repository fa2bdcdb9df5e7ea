//! The start of a task's life: a task on a stack, ready to run, and the
//! wrapper every task body runs in (a panic is caught at the task boundary
//! and becomes the task's error).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::rc::Rc;
use std::sync::Arc;

use super::task::{State, Task};
use super::{panic as hpanic, with_hub};
use crate::error::Result;

/// A new task (unstarted, no coroutine yet) with a fresh id.
pub(crate) fn new_task(name: Option<Arc<str>>, stack_bytes: usize) -> Rc<Task> {
    let id = with_hub(|h| h.next_task_id());
    let task = Rc::new(Task::new(id, stack_bytes));
    if name.is_some() {
        *task.name.borrow_mut() = name;
    }
    task
}

/// Gives an unstarted task its coroutine, running `body` inside
/// [`task_body`]; on failure the task dies with the allocation error.
pub(crate) fn install<B: FnOnce() + 'static>(task: &Rc<Task>, body: B) -> Result<()> {
    match with_hub(|h| h.alloc_gen(task.stack_bytes, task_body(body))) {
        Ok(coro) => {
            *task.coro.borrow_mut() = Some(coro);
            task.state.set(State::Scheduled);
            with_hub(|h| h.register_task(task));
            Ok(())
        }
        Err(e) => {
            *task.error.borrow_mut() = Some(e.clone());
            task.state.set(State::Dead);
            with_hub(|h| h.finish(task));
            Err(e)
        }
    }
}

/// Wraps a task body: catch its panic (as the task's error), mark the
/// task successful or not, and dead. Runs on the task's own stack.
pub(crate) fn task_body<B: FnOnce() + 'static>(body: B) -> impl FnOnce() + 'static {
    move || {
        let result = catch_unwind(AssertUnwindSafe(body));
        let task = super::current_task();
        match result {
            Ok(()) => task.successful.set(true),
            Err(payload) => {
                if hpanic::is_cancel(payload.as_ref()) {
                    resume_unwind(payload);
                }
                *task.error.borrow_mut() = Some(hpanic::error(payload.as_ref(), task.id));
            }
        }
        task.state.set(State::Dead);
    }
}

/// Starts a fire-and-forget task running `body` (for example one sent by
/// another thread through a [`HubHandle`](super::HubHandle)).
pub(crate) fn spawn_detached(body: Box<dyn FnOnce()>) -> Result<()> {
    let task = new_task(None, super::settings::default_stack_bytes());
    install(&task, body)?;
    with_hub(|h| h.schedule(task));
    Ok(())
}
