-- 0003_seed_test_users.sql — DEVELOPMENT-ONLY test logins.
--
-- !! These accounts have publicly documented passwords (docs/postgres-schema.md).
-- !! They exist for local/dev clusters only: disable or delete them anywhere
-- !! reachable by real users.
--
-- Password hashes are bcrypt, cost 12, "$2b$" variant (60 chars), generated
-- with libxcrypt via Python's crypt module. They verify with Python `bcrypt` /
-- passlib, Node `bcrypt` / `bcryptjs`, Go x/crypto/bcrypt. No plaintext here.
--
--   dev.student@example.com   learnflow-dev-student    student
--   dev.student2@example.com  learnflow-dev-student2   student
--   dev.teacher@example.com   learnflow-dev-teacher    teacher
--   dev.admin@example.com     learnflow-dev-admin      admin
--
-- Re-run safe: ON CONFLICT DO NOTHING everywhere, so a password, name or role
-- a user changed later is never overwritten.

INSERT INTO public.users (email, password_hash, display_name, role) VALUES
    ('dev.student@example.com',
     '$2b$12$6WhkVv/eamlXV98fDPLp/eTZbwbT/Iscz.oWOt8i3vnr.3bXbKgy6',
     'Dev Student', 'student'),
    ('dev.student2@example.com',
     '$2b$12$aIrE4jh/ER3Ie13XIrE7/uLRAiQQuPoTFTiNoZqWmq9p1udEBLSbO',
     'Dev Student Two', 'student'),
    ('dev.teacher@example.com',
     '$2b$12$NZZoTPlktEGOj7tme5TQCOE88sYhvuc3Tuij6LW8cjlnRNFh3lcYK',
     'Dev Teacher', 'teacher'),
    ('dev.admin@example.com',
     '$2b$12$LYZxru8AELot8e8YoBsms.VWxAdB7260QahdOlP5j/nmWcbsWkQRS',
     'Dev Admin', 'admin')
ON CONFLICT (email) DO NOTHING;

-- Student profiles for the student logins (only while they still have that role).
INSERT INTO public.students (user_id, skill_level, learning_goal)
SELECT u.id, v.skill_level, v.learning_goal
FROM (VALUES
    ('dev.student@example.com',  'beginner',     'Learn Python from scratch'),
    ('dev.student2@example.com', 'intermediate', 'Get comfortable with OOP and testing')
) AS v (email, skill_level, learning_goal)
JOIN public.users AS u ON u.email = v.email AND u.role = 'student'
ON CONFLICT (user_id) DO NOTHING;

-- Teacher profile for the teacher login.
INSERT INTO public.teachers (user_id, bio)
SELECT u.id, 'Development test teacher account.'
FROM public.users AS u
WHERE u.email = 'dev.teacher@example.com' AND u.role = 'teacher'
ON CONFLICT (user_id) DO NOTHING;

-- A little progress so dashboards have something to show.
INSERT INTO public.progress (student_id, topic_id, status, mastery, exercises_completed, last_activity_at)
SELECT s.id, t.id, v.status, v.mastery, v.exercises_completed, now()
FROM (VALUES
    ('dev.student@example.com',  'variables',  'mastered',    90.00, 1),
    ('dev.student@example.com',  'data-types', 'in_progress', 40.00, 0),
    ('dev.student2@example.com', 'variables',  'mastered',    100.00, 1)
) AS v (email, topic_slug, status, mastery, exercises_completed)
JOIN public.users    AS u ON u.email = v.email
JOIN public.students AS s ON s.user_id = u.id
JOIN public.topics   AS t ON t.slug = v.topic_slug
ON CONFLICT (student_id, topic_id) DO NOTHING;
