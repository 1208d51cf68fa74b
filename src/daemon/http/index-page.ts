// SPDX-License-Identifier: LGPL-2.1-or-later
// Which part of the store the index page shows: the page a query asks for, and that page's items, newest
// first. A page costs the same whatever the store holds, so that no request makes the daemon build a table
// of every item.
import { PassimError } from '../../shared/errors.js';
import { N_ } from '../../shared/i18n.js';
import type { Item } from '../../shared/item.js';
import type { Store } from '../store/store.js';
import { queryArguments } from './request.js';

/** Rows of one index page. */
export const INDEX_PAGE_ROWS = 100;

/** A page number: no sign, no leading zero, at most nine digits (far past the last page of any store). */
const PAGE_NUMBER = /^[1-9][0-9]{0,8}$/;

/** The page number `/?page=N` asks for, 1 without one; a value that is not a page number is a 400. */
export function parseIndexQuery(query: string): number {
  const { page } = queryArguments(query, ['page']);
  if (page === undefined) return 1;
  if (!PAGE_NUMBER.test(page)) {
    throw new PassimError('bad-request', N_('The {argument} argument must be a page number: 1, 2, 3 and so on.', { argument: 'page=' }));
  }
  return Number(page);
}

/** One page of the index and where it lies in the whole. */
export interface IndexListing {
  items: Item[];
  /** 1-based. */
  page: number;
  /** At least 1: an empty store has one, empty, page. */
  pageCount: number;
  /** Items in the store. */
  total: number;
  /** Position of the first of `items` in the store's order, 0-based. */
  offset: number;
}

/** Page `page` of the store's items, newest first; a page past the last is a 404. */
export function indexListing(store: Pick<Store, 'size' | 'page'>, page: number): IndexListing {
  const total = store.size;
  const pageCount = Math.max(1, Math.ceil(total / INDEX_PAGE_ROWS));
  if (page > pageCount) {
    throw new PassimError('not-found', N_('There is no page {page}; the last page is {last}.', { page, last: pageCount }));
  }
  const offset = (page - 1) * INDEX_PAGE_ROWS;
  return { items: store.page(offset, INDEX_PAGE_ROWS), page, pageCount, total, offset };
}
