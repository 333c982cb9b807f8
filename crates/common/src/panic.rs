//! What a caught panic said.

use std::any::Any;

/// The message of a panic payload (`panic!("...")` gives a `&str` or a
/// `String`), or `"a panic"` for any other payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn messages_of_str_string_and_other_payloads() {
        let m = |f: fn()| super::panic_message(&*std::panic::catch_unwind(f).unwrap_err());
        assert_eq!(m(|| panic!("plain")), "plain");
        assert_eq!(m(|| panic!("formatted {}", 7)), "formatted 7");
        assert_eq!(m(|| std::panic::panic_any(3u8)), "a panic");
    }
}
