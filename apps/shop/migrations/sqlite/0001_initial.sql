CREATE TABLE `auth_permission` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`codename` text NOT NULL,
	`name` text NOT NULL,
	`model` text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_permission_codename_unique` ON `auth_permission` (`codename`);
--> statement-breakpoint
CREATE TABLE `auth_group` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_group_name_unique` ON `auth_group` (`name`);
--> statement-breakpoint
CREATE TABLE `auth_user` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`email` text NOT NULL,
	`username` text,
	`name` text DEFAULT '' NOT NULL,
	`password` text NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`is_staff` integer DEFAULT false NOT NULL,
	`is_superuser` integer DEFAULT false NOT NULL,
	`last_login` text,
	`date_joined` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_user_email_unique` ON `auth_user` (`email`);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_user_username_unique` ON `auth_user` (`username`);
--> statement-breakpoint
CREATE TABLE `auth_session` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`user_id` integer,
	`data` text NOT NULL,
	`expires_at` text NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `auth_user`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_session_key_unique` ON `auth_session` (`key`);
--> statement-breakpoint
CREATE INDEX `auth_session_user_id_idx` ON `auth_session` (`user_id`);
--> statement-breakpoint
CREATE INDEX `auth_session_expires_at_idx` ON `auth_session` (`expires_at`);
--> statement-breakpoint
CREATE TABLE `shop_category` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `shop_category_name_unique` ON `shop_category` (`name`);
--> statement-breakpoint
CREATE TABLE `shop_product` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`price` integer NOT NULL,
	`stock` integer DEFAULT 0 NOT NULL,
	`category_id` integer NOT NULL,
	`version` integer DEFAULT 1 NOT NULL,
	FOREIGN KEY (`category_id`) REFERENCES `shop_category`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `shop_product_category_id_idx` ON `shop_product` (`category_id`);
--> statement-breakpoint
CREATE TABLE `shop_cart` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`owner_id` integer,
	FOREIGN KEY (`owner_id`) REFERENCES `auth_user`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `shop_cart_owner_id_idx` ON `shop_cart` (`owner_id`);
--> statement-breakpoint
CREATE TABLE `shop_cart_line` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`cart_id` integer NOT NULL,
	`product_id` integer NOT NULL,
	`quantity` integer NOT NULL,
	FOREIGN KEY (`cart_id`) REFERENCES `shop_cart`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`product_id`) REFERENCES `shop_product`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `shop_cart_line_cart_id_idx` ON `shop_cart_line` (`cart_id`);
--> statement-breakpoint
CREATE INDEX `shop_cart_line_product_id_idx` ON `shop_cart_line` (`product_id`);
--> statement-breakpoint
CREATE UNIQUE INDEX `shop_cart_line_cart_id_product_id_unique` ON `shop_cart_line` (`cart_id`,`product_id`);
--> statement-breakpoint
CREATE TABLE `shop_order` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`customer_id` integer NOT NULL,
	`total` integer NOT NULL,
	`created_at` text NOT NULL,
	FOREIGN KEY (`customer_id`) REFERENCES `auth_user`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `shop_order_customer_id_idx` ON `shop_order` (`customer_id`);
--> statement-breakpoint
CREATE TABLE `shop_order_line` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`order_id` integer NOT NULL,
	`product_id` integer NOT NULL,
	`name` text NOT NULL,
	`price` integer NOT NULL,
	`quantity` integer NOT NULL,
	FOREIGN KEY (`order_id`) REFERENCES `shop_order`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`product_id`) REFERENCES `shop_product`(`id`) ON UPDATE no action ON DELETE restrict
);
--> statement-breakpoint
CREATE INDEX `shop_order_line_order_id_idx` ON `shop_order_line` (`order_id`);
--> statement-breakpoint
CREATE INDEX `shop_order_line_product_id_idx` ON `shop_order_line` (`product_id`);
--> statement-breakpoint
CREATE TABLE `auth_group_permissions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`group_id` integer NOT NULL,
	`permission_id` integer NOT NULL,
	FOREIGN KEY (`group_id`) REFERENCES `auth_group`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`permission_id`) REFERENCES `auth_permission`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `auth_group_permissions_group_id_idx` ON `auth_group_permissions` (`group_id`);
--> statement-breakpoint
CREATE INDEX `auth_group_permissions_permission_id_idx` ON `auth_group_permissions` (`permission_id`);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_group_permissions_group_id_permission_id_unique` ON `auth_group_permissions` (`group_id`,`permission_id`);
--> statement-breakpoint
CREATE TABLE `auth_user_groups` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`group_id` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `auth_user`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`group_id`) REFERENCES `auth_group`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `auth_user_groups_user_id_idx` ON `auth_user_groups` (`user_id`);
--> statement-breakpoint
CREATE INDEX `auth_user_groups_group_id_idx` ON `auth_user_groups` (`group_id`);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_user_groups_user_id_group_id_unique` ON `auth_user_groups` (`user_id`,`group_id`);
--> statement-breakpoint
CREATE TABLE `auth_user_permissions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`permission_id` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `auth_user`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`permission_id`) REFERENCES `auth_permission`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `auth_user_permissions_user_id_idx` ON `auth_user_permissions` (`user_id`);
--> statement-breakpoint
CREATE INDEX `auth_user_permissions_permission_id_idx` ON `auth_user_permissions` (`permission_id`);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_user_permissions_user_id_permission_id_unique` ON `auth_user_permissions` (`user_id`,`permission_id`);
