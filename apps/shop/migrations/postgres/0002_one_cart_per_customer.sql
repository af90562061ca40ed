DROP INDEX "shop_cart_owner_id_idx";
--> statement-breakpoint
ALTER TABLE "shop_cart" ADD CONSTRAINT "shop_cart_owner_id_unique" UNIQUE("owner_id");
