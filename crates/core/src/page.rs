//! Page requests and pages of results (Django REST Framework's page-number pagination).

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based.
    pub page: i64,
    pub page_size: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    /// Clamps the size to `1..=MAX_PAGE_SIZE`; a page below 1 becomes 1.
    pub fn new(page: i64, page_size: i64) -> Self {
        PageRequest {
            page: page.max(1),
            page_size: page_size.clamp(1, MAX_PAGE_SIZE),
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.page_size)
    }

    pub fn limit(&self) -> i64 {
        self.page_size
    }
}

/// One page of a list and the total count of the list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub count: i64,
    pub results: Vec<T>,
    pub request: PageRequest,
}

impl<T> Page<T> {
    pub fn has_next(&self) -> bool {
        self.request.offset() + (self.results.len() as i64) < self.count
    }

    pub fn has_previous(&self) -> bool {
        self.request.page > 1
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            count: self.count,
            results: self.results.into_iter().map(f).collect(),
            request: self.request,
        }
    }

    /// DRF answers 404 for a page past the end (page 1 of an empty list is fine).
    pub fn is_out_of_range(&self) -> bool {
        self.results.is_empty() && self.request.page > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_and_offsets() {
        let p = PageRequest::new(3, 500);
        assert_eq!(p.page_size, MAX_PAGE_SIZE);
        assert_eq!(p.offset(), 400);
        assert_eq!(
            PageRequest::new(0, 0),
            PageRequest {
                page: 1,
                page_size: 1
            }
        );
    }

    #[test]
    fn next_previous() {
        let page = Page {
            count: 5,
            results: vec![1, 2],
            request: PageRequest::new(1, 2),
        };
        assert!(page.has_next());
        assert!(!page.has_previous());
        let last = Page {
            count: 5,
            results: vec![5],
            request: PageRequest::new(3, 2),
        };
        assert!(!last.has_next());
        assert!(last.has_previous());
    }
}
