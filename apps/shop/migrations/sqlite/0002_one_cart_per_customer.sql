DROP INDEX `shop_cart_owner_id_idx`;
--> statement-breakpoint
CREATE UNIQUE INDEX `shop_cart_owner_id_unique` ON `shop_cart` (`owner_id`);
