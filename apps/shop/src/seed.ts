import { atomic } from '@strata/model';
import { createSuperuser, createUser, syncPermissions, User } from '@strata/auth';
import { Category, Product } from './models.js';

/** Development accounts the seed prints (never used in production: `strata seed` refuses there). */
export const SEED_ACCOUNTS = {
  staff: { email: 'staff@shop.example', password: 'staff-shop-demo-2024' },
  customer: { email: 'customer@shop.example', password: 'customer-shop-demo-2024' },
};

const CATALOG: Record<string, [name: string, price: string, stock: number, description: string][]> = {
  Tea: [
    ['Sencha', '12.50', 40, 'A bright, grassy green tea from Shizuoka.'],
    ['Gyokuro', '28.00', 12, 'Shade-grown green tea, sweet and rich in umami.'],
    ['Matcha', '24.90', 25, 'Stone-ground tencha for whisking.'],
    ['Hojicha', '9.80', 30, 'Roasted green tea, low in caffeine, toasty.'],
    ['Genmaicha', '8.50', 35, 'Green tea with roasted brown rice.'],
    ['Oolong', '15.00', 18, 'Half-oxidised, floral and creamy.'],
    ['Darjeeling', '16.40', 20, 'First flush, muscatel notes.'],
    ['Assam', '7.90', 50, 'Malty black tea, good with milk.'],
  ],
  Teaware: [
    ['Kyusu teapot', '45.00', 6, 'A side-handled clay teapot for green tea.'],
    ['Chasen whisk', '19.00', 15, 'Bamboo whisk for matcha.'],
    ['Tea bowl', '32.00', 8, 'A hand-thrown matcha bowl.'],
    ['Yunomi cup', '14.00', 24, 'A tall cup for everyday tea.'],
  ],
  Snacks: [
    ['Wagashi box', '18.00', 10, 'Seasonal sweets to go with tea.'],
    ['Rice crackers', '5.50', 60, 'Crisp senbei with soy glaze.'],
  ],
};

/** Seeds the catalog and two accounts once (a second run changes nothing); returns what it made. */
export async function seed(report: (line: string) => void = () => undefined): Promise<void> {
  await syncPermissions();
  if (await Product.objects.exists()) {
    report('The catalog is already seeded.');
    return;
  }
  await atomic(async () => {
    for (const [name, products] of Object.entries(CATALOG)) {
      const category = await Category.objects.create({ name });
      await Product.objects.bulkCreate(products.map(([title, price, stock, description]) => ({ name: title, price, stock, description, categoryId: category.id })));
      report(`${name}: ${products.length} products`);
    }
  });
  if (!(await User.objects.filter({ email: SEED_ACCOUNTS.staff.email }).exists())) await createSuperuser(SEED_ACCOUNTS.staff);
  if (!(await User.objects.filter({ email: SEED_ACCOUNTS.customer.email }).exists())) await createUser(SEED_ACCOUNTS.customer);
  report(`staff: ${SEED_ACCOUNTS.staff.email} / ${SEED_ACCOUNTS.staff.password}`);
  report(`customer: ${SEED_ACCOUNTS.customer.email} / ${SEED_ACCOUNTS.customer.password}`);
}
