import { type JSX, Show } from 'solid-js';
import { useShop } from './context.js';

/** "Previous" and "Next" links of a paged list (through the router: the URL says the page). */
export function Pager(props: { page: number; total: number; pageSize: number; href: (page: number) => string }): JSX.Element {
  const { router } = useShop();
  const pages = () => Math.max(1, Math.ceil(props.total / Math.max(1, props.pageSize)));
  return (
    <nav aria-label="Pages" class="pages">
      <Show when={props.page > 1}>
        <router.Link href={props.href(props.page - 1)}>Previous</router.Link>
      </Show>
      <span>
        Page {props.page} of {pages()}
      </span>
      <Show when={props.page < pages()}>
        <router.Link href={props.href(props.page + 1)}>Next</router.Link>
      </Show>
    </nav>
  );
}
