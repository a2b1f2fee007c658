-- One database per service, each owned by its own role.
create role "order" login password 'order';
create database "order" owner "order";
create role inventory login password 'inventory';
create database inventory owner inventory;
create role payment login password 'payment';
create database payment owner payment;
