//! Greenlet-local storage (gevent's `gevent.local.local`).

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::hub::{self, task::Task};

static NEXT_KEY: AtomicUsize = AtomicUsize::new(1);

/// A value that every greenlet sees its own copy of (gevent's `local`).
///
/// Each greenlet starts without a value (or with the initializer's, see
/// [`with_init`](Self::with_init)); what one greenlet stores is invisible
/// to every other, and is dropped when that greenlet ends. The root
/// context (plain `main()`) has its own values too, kept until the
/// thread ends.
///
/// A `Local` can be a `static`: it is only a key, and the values live in
/// the greenlets themselves (so they never cross threads, and `T` need
/// not be `Send`).
///
/// # Examples
///
/// ```
/// use zgreen::local::Local;
///
/// static REQUEST_ID: Local<u64> = Local::new();
///
/// let a = zgreen::spawn(|| {
///     REQUEST_ID.set(1);
///     zgreen::sleep(std::time::Duration::ZERO).unwrap();
///     REQUEST_ID.get()
/// });
/// let b = zgreen::spawn(|| REQUEST_ID.get());
/// assert_eq!(a.get().unwrap(), Some(1));
/// assert_eq!(b.get().unwrap(), None);
/// ```
pub struct Local<T: 'static> {
    /// 0 until first use, then a process-wide unique key.
    key: AtomicUsize,
    init: Option<fn() -> T>,
    _values: PhantomData<fn() -> T>,
}

impl<T: 'static> fmt::Debug for Local<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local")
            .field("type", &std::any::type_name::<T>())
            .field("set_here", &self.is_set())
            .finish()
    }
}

impl<T: 'static> Default for Local<T> {
    fn default() -> Self {
        Local::new()
    }
}

/// Puts a value taken out of a task's locals back, even if the closure
/// that borrowed it panicked.
struct PutBack {
    task: Rc<Task>,
    key: usize,
    value: Option<Box<dyn Any>>,
}

impl Drop for PutBack {
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.task.locals.borrow_mut().push((self.key, v));
        }
    }
}

impl<T: 'static> Local<T> {
    /// A local without an initial value: greenlets see `None` until they
    /// [`set`](Self::set) one.
    pub const fn new() -> Local<T> {
        Local {
            key: AtomicUsize::new(0),
            init: None,
            _values: PhantomData,
        }
    }

    /// A local whose value starts, in each greenlet, as `init()` (called
    /// at that greenlet's first access).
    pub const fn with_init(init: fn() -> T) -> Local<T> {
        Local {
            key: AtomicUsize::new(0),
            init: Some(init),
            _values: PhantomData,
        }
    }

    fn key(&self) -> usize {
        let k = self.key.load(Ordering::Acquire);
        if k != 0 {
            return k;
        }
        let fresh = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        match self
            .key
            .compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh,
            Err(existing) => existing,
        }
    }

    fn take_boxed(task: &Task, key: usize) -> Option<Box<dyn Any>> {
        let mut locals = task.locals.borrow_mut();
        let i = locals.iter().position(|(k, _)| *k == key)?;
        Some(locals.swap_remove(i).1)
    }

    /// Runs `f` on the current greenlet's value (initializing it first if
    /// the local has an initializer). Returns `None`, without calling `f`,
    /// if the greenlet has no value.
    ///
    /// While `f` runs, the value is lent out: this same `Local` read from
    /// inside `f` looks unset (other locals work as usual).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let key = self.key();
        let task = hub::current_task();
        let boxed = match Self::take_boxed(&task, key) {
            Some(b) => b,
            None => Box::new((self.init?)()),
        };
        let mut put_back = PutBack {
            task,
            key,
            value: Some(boxed),
        };
        let value = put_back
            .value
            .as_mut()
            .and_then(|b| b.downcast_mut::<T>())
            .expect("a Local's key only ever holds values of its own type");
        Some(f(value))
    }

    /// A copy of the current greenlet's value.
    pub fn get(&self) -> Option<T>
    where
        T: Clone,
    {
        self.with(|v| v.clone())
    }

    /// Stores `value` for the current greenlet; returns the previous one.
    pub fn set(&self, value: T) -> Option<T> {
        let previous = self.take();
        let key = self.key();
        hub::current_task()
            .locals
            .borrow_mut()
            .push((key, Box::new(value)));
        previous
    }

    /// Removes the current greenlet's value and returns it.
    pub fn take(&self) -> Option<T> {
        let key = self.key();
        let task = hub::current_task();
        let boxed = Self::take_boxed(&task, key)?;
        boxed.downcast::<T>().ok().map(|b| *b)
    }

    /// True if the current greenlet holds a value (the initializer, if
    /// any, is not run).
    pub fn is_set(&self) -> bool {
        let key = self.key();
        hub::current_task().locals.borrow().iter().any(|(k, _)| *k == key)
    }
}
