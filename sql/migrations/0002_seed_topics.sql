-- 0002_seed_topics.sql — the 24 Python curriculum topics, in teaching order,
-- plus a handful of starter exercises for the first topics.
--
-- Re-run safe: ON CONFLICT DO NOTHING (no conflict target, so a clash on
-- either slug or position skips the row). Rows that already exist — including
-- ones users have edited since — are never overwritten.

INSERT INTO public.topics (position, slug, title, description, difficulty) VALUES
    ( 1, 'variables',            'Variables and Assignment',
         'Names, assignment, reassignment and naming conventions; print() and input().', 'beginner'),
    ( 2, 'data-types',           'Numbers, Booleans and None',
         'int, float, bool, None; type() and converting between types.', 'beginner'),
    ( 3, 'operators',            'Operators and Expressions',
         'Arithmetic, comparison, logical and membership operators; precedence.', 'beginner'),
    ( 4, 'strings',              'Strings',
         'Indexing, slicing, common methods, f-strings and immutability.', 'beginner'),
    ( 5, 'control-flow',         'Conditionals',
         'if / elif / else, truthiness, and the conditional expression.', 'beginner'),
    ( 6, 'loops',                'Loops',
         'for and while loops, range(), break, continue, and loop else.', 'beginner'),
    ( 7, 'functions',            'Functions',
         'def, parameters, default and keyword arguments, return values, scope.', 'beginner'),
    ( 8, 'lists',                'Lists',
         'Creating, indexing, slicing and mutating lists; sorting; common methods.', 'beginner'),
    ( 9, 'tuples',               'Tuples',
         'Immutable sequences, packing and unpacking, multiple return values.', 'beginner'),
    (10, 'dictionaries',         'Dictionaries',
         'Key-value mappings: lookup, get(), iteration over keys, values and items.', 'beginner'),
    (11, 'sets',                 'Sets',
         'Unique elements, membership tests, union, intersection and difference.', 'beginner'),
    (12, 'comprehensions',       'Comprehensions',
         'List, dict and set comprehensions with conditions; when to use a plain loop.', 'intermediate'),
    (13, 'modules',              'Modules and Imports',
         'import, from-import, the standard library, __name__ == "__main__".', 'intermediate'),
    (14, 'file-io',              'File I/O',
         'Reading and writing text files with open() and with, pathlib, encodings.', 'intermediate'),
    (15, 'exceptions',           'Exceptions and Error Handling',
         'try / except / else / finally, raising exceptions, custom exception classes.', 'intermediate'),
    (16, 'classes',              'Classes and Objects',
         'class, __init__, attributes, methods, self, and __repr__ / __str__.', 'intermediate'),
    (17, 'inheritance',          'Inheritance and Polymorphism',
         'Subclasses, super(), method overriding, duck typing, composition.', 'intermediate'),
    (18, 'iterators-generators', 'Iterators and Generators',
         'The iterator protocol, iter() and next(), generator functions and yield, generator expressions.', 'advanced'),
    (19, 'decorators',           'Decorators',
         'Functions as objects, closures, writing decorators, functools.wraps.', 'advanced'),
    (20, 'context-managers',     'Context Managers',
         'The with statement, __enter__ / __exit__, contextlib.contextmanager.', 'advanced'),
    (21, 'type-hints',           'Type Hints',
         'Annotating functions and variables, typing generics, Optional, running a type checker.', 'intermediate'),
    (22, 'testing',              'Testing with pytest',
         'Writing tests with assert and pytest, fixtures, parametrize, testing exceptions.', 'intermediate'),
    (23, 'async-basics',         'Async Basics',
         'async def, await, asyncio.run, running coroutines concurrently with gather.', 'advanced'),
    (24, 'packaging',            'Packaging and Environments',
         'Virtual environments, pip, requirements, pyproject.toml and building a package.', 'intermediate')
ON CONFLICT DO NOTHING;

-- Starter exercises for the first topics. topic_id is resolved by slug; if a
-- topic slug no longer exists the exercise is simply not inserted.
INSERT INTO public.exercises (topic_id, slug, title, prompt, starter_code, solution_code, test_code, difficulty)
SELECT t.id, e.slug, e.title, e.prompt, e.starter_code, e.solution_code, e.test_code, 'beginner'
FROM (VALUES
    ('variables', 'swap-two-variables', 'Swap two variables',
     'Write swap(a, b) that returns the two values in the opposite order, using tuple unpacking.',
     E'def swap(a, b):\n    pass\n',
     E'def swap(a, b):\n    a, b = b, a\n    return a, b\n',
     E'assert swap(1, 2) == (2, 1)\nassert swap("x", None) == (None, "x")\n'),
    ('data-types', 'celsius-to-fahrenheit', 'Celsius to Fahrenheit',
     'Write to_fahrenheit(celsius) that converts a temperature to Fahrenheit (F = C * 9 / 5 + 32) and returns a float.',
     E'def to_fahrenheit(celsius):\n    pass\n',
     E'def to_fahrenheit(celsius):\n    return celsius * 9 / 5 + 32\n',
     E'assert to_fahrenheit(0) == 32.0\nassert to_fahrenheit(100) == 212.0\nassert isinstance(to_fahrenheit(37), float)\n'),
    ('operators', 'is-even', 'Even or odd',
     'Write is_even(n) that returns True if the integer n is even and False otherwise.',
     E'def is_even(n):\n    pass\n',
     E'def is_even(n):\n    return n % 2 == 0\n',
     E'assert is_even(4) is True\nassert is_even(7) is False\nassert is_even(0) is True\nassert is_even(-3) is False\n'),
    ('strings', 'reverse-string', 'Reverse a string',
     'Write reverse(text) that returns text reversed. Hint: slicing.',
     E'def reverse(text):\n    pass\n',
     E'def reverse(text):\n    return text[::-1]\n',
     E'assert reverse("python") == "nohtyp"\nassert reverse("") == ""\n'),
    ('control-flow', 'fizzbuzz-one', 'FizzBuzz for one number',
     'Write fizzbuzz(n): return "FizzBuzz" if n is divisible by 3 and 5, "Fizz" if by 3, "Buzz" if by 5, otherwise str(n).',
     E'def fizzbuzz(n):\n    pass\n',
     E'def fizzbuzz(n):\n    if n % 15 == 0:\n        return "FizzBuzz"\n    if n % 3 == 0:\n        return "Fizz"\n    if n % 5 == 0:\n        return "Buzz"\n    return str(n)\n',
     E'assert fizzbuzz(15) == "FizzBuzz"\nassert fizzbuzz(9) == "Fizz"\nassert fizzbuzz(10) == "Buzz"\nassert fizzbuzz(7) == "7"\n'),
    ('loops', 'sum-to-n', 'Sum from 1 to n',
     'Write sum_to(n) that returns 1 + 2 + ... + n using a loop (0 when n < 1).',
     E'def sum_to(n):\n    pass\n',
     E'def sum_to(n):\n    total = 0\n    for i in range(1, n + 1):\n        total += i\n    return total\n',
     E'assert sum_to(1) == 1\nassert sum_to(10) == 55\nassert sum_to(0) == 0\n')
) AS e (topic_slug, slug, title, prompt, starter_code, solution_code, test_code)
JOIN public.topics AS t ON t.slug = e.topic_slug
ON CONFLICT DO NOTHING;
