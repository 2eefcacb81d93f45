-- Reverts 0007_changes.up.sql (what the log held is lost; event jobs start again from here).
DROP TABLE change_floor;
DROP TABLE change_marks;
DROP TABLE change_consumers;
DROP TABLE changes;
DROP SEQUENCE changes_seq;
