import type { JSX } from 'solid-js';
import { useShop } from '../context.js';

/** No page here (the server answers 404). */
export function NotFound(props: { what?: string }): JSX.Element {
  const { meta, router } = useShop();
  meta.title('Not found');
  meta.notFound();
  return (
    <section>
      <h1>{props.what ?? 'Page'} not found</h1>
      <p>
        There is nothing here. <router.Link href="/">Back to the catalog</router.Link>
      </p>
    </section>
  );
}
