using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Cocoon.Testing;

/// <summary>
/// A small seeded generator for property tests: random and mutated bytes, text and JSON. Every case gets its own
/// <see cref="Fuzz"/> from (seed, case number), so a failure names the one case to replay, and the count is bounded
/// (COCOON_FUZZ_CASES multiplies it for a longer local run; the suite runs the default).
/// </summary>
public sealed class Fuzz
{
    private static readonly string[] InterestingNumbers =
    [
        "0", "-0", "1", "-1", "0.5", "1e-300", "-1e-300", "1e300", "-1e308", "1e999", "2147483647", "2147483648",
        "-2147483649", "4294967295", "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
        "18446744073709551616", "3.4028235e38", "1.7976931348623157e308", "5e-324", "123456789012345678901234567890",
    ];

    private static readonly string[] InterestingText =
    [
        "", " ", "\0", "\u0001", "\n", "\r\n", "\"", "\\", "%", "%zz", "%00", "&", "=", "+", "null", "true", "NaN",
        "Infinity", "-1", "1e-300", "\ud800", "\udfff", "\ud83d\ude00", "\u202e", "\ufeff", "é", "ß", "日本",
        "{}", "[]", "{\"id\":1}", "../../etc/passwd", "<script>", "${jndi:x}", "'; DROP TABLE x;--",
    ];

    private readonly Random _random;

    public Fuzz(int seed, int testCase)
    {
        Seed = seed;
        Case = testCase;
        _random = new Random(unchecked((seed * 1_000_003) + testCase));
    }

    public int Seed { get; }

    public int Case { get; }

    /// <summary>"seed S case C": what a failure message names so the case can be replayed alone.</summary>
    public override string ToString() => $"seed {Seed} case {Case}";

    /// <summary>The number of cases to run: the default, times COCOON_FUZZ_CASES when set (e.g. 100 for a soak).</summary>
    public static int Cases(int defaultCount) =>
        int.TryParse(Environment.GetEnvironmentVariable("COCOON_FUZZ_CASES"), NumberStyles.None, CultureInfo.InvariantCulture, out var factor) && factor > 0
            ? defaultCount * factor
            : defaultCount;

    /// <summary>Runs <paramref name="property"/> for each case; a failure names the seed, the case and the input shown.</summary>
    public static void Run(int seed, int cases, Action<Fuzz> property)
    {
        ArgumentNullException.ThrowIfNull(property);
        for (var i = 0; i < Cases(cases); i++)
        {
            var fuzz = new Fuzz(seed, i);
            try
            {
                property(fuzz);
            }
            catch (Exception e) when (e is not FuzzCaseException)
            {
                throw new FuzzCaseException($"{fuzz}: {e.GetType().Name}: {e.Message}\ninput: {fuzz.Shown}", e);
            }
        }
    }

    /// <summary>The asynchronous form of <see cref="Run"/>.</summary>
    public static async Task RunAsync(int seed, int cases, Func<Fuzz, Task> property)
    {
        ArgumentNullException.ThrowIfNull(property);
        for (var i = 0; i < Cases(cases); i++)
        {
            var fuzz = new Fuzz(seed, i);
            try
            {
                await property(fuzz);
            }
            catch (Exception e) when (e is not FuzzCaseException)
            {
                throw new FuzzCaseException($"{fuzz}: {e.GetType().Name}: {e.Message}\ninput: {fuzz.Shown}", e);
            }
        }
    }

    /// <summary>What the property was given, recorded by <see cref="Show"/> for the failure message.</summary>
    public string Shown { get; private set; } = "(not recorded)";

    /// <summary>Records the input of this case (escaped, at most 2,000 characters) for a failure message.</summary>
    public T Show<T>(T input)
    {
        var text = input switch
        {
            byte[] bytes => Convert.ToHexString(bytes),
            null => "null",
            _ => input.ToString() ?? string.Empty,
        };
        Shown = Escape(text.Length > 2000 ? text[..2000] + "…" : text);
        return input;
    }

    /// <summary>Printable ASCII as is, everything else as \uXXXX (lone surrogates included), so any text can be shown.</summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var builder = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            builder.Append(c is >= ' ' and <= '~' and not '"' and not '\\' ? c.ToString() : $"\\u{(int)c:x4}");
        }

        return builder.Append('"').ToString();
    }

    /// <summary>Lone surrogates replaced by '?': JSON writers refuse them, so JSON values carry only well-formed text.</summary>
    public static string WellFormed(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(chars[i]))
            {
                chars[i] = '?';
            }
        }

        return new string(chars);
    }

    public int Next(int maxExclusive) => _random.Next(maxExclusive);

    public int Next(int minInclusive, int maxExclusive) => _random.Next(minInclusive, maxExclusive);

    public bool Chance(double probability) => _random.NextDouble() < probability;

    public T Pick<T>(IReadOnlyList<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items[_random.Next(items.Count)];
    }

    public byte[] Bytes(int maxLength)
    {
        var bytes = new byte[_random.Next(maxLength + 1)];
        _random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>One to four edits of <paramref name="input"/>: bit flips, boundary bytes, inserts, deletes, truncation, duplication.</summary>
    public byte[] Mutate(ReadOnlySpan<byte> input)
    {
        var data = new List<byte>(input.ToArray());
        var edits = _random.Next(1, 5);
        for (var e = 0; e < edits; e++)
        {
            var at = data.Count == 0 ? 0 : _random.Next(data.Count);
            switch (_random.Next(8))
            {
                case 0 when data.Count > 0:
                    data[at] ^= (byte)(1 << _random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[at] = Pick<byte>([0x00, 0x01, 0x7F, 0x80, 0xFF]);
                    break;
                case 2:
                    data.InsertRange(at, Bytes(8));
                    break;
                case 3 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(data.Count - at, _random.Next(1, 9)));
                    break;
                case 4:
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 5 when data.Count > 0:
                    var length = Math.Min(data.Count - at, _random.Next(1, 17));
                    data.InsertRange(at, data.GetRange(at, length));
                    break;
                case 6 when data.Count >= 4:
                    var word = Pick<uint>([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x100]);
                    at = Math.Min(at, data.Count - 4);
                    for (var b = 0; b < 4; b++)
                    {
                        data[at + b] = (byte)(word >> (8 * (3 - b)));
                    }

                    break;
                default:
                    if (data.Count > 0)
                    {
                        data[at] = (byte)_random.Next(256);
                    }

                    break;
            }
        }

        return [.. data];
    }

    /// <summary>Random text: boundary strings, control characters, lone surrogates, multi-byte characters.</summary>
    public string Text(int maxLength = 24)
    {
        if (Chance(0.3))
        {
            return Pick(InterestingText);
        }

        var builder = new StringBuilder();
        var length = _random.Next(maxLength + 1);
        for (var i = 0; i < length; i++)
        {
            builder.Append(_random.Next(6) switch
            {
                0 => (char)_random.Next(0x20),
                1 => (char)_random.Next(0x80, 0x800),
                2 => (char)_random.Next(0xD800, 0xE000),
                3 => (char)_random.Next(0x3000, 0xA000),
                _ => (char)_random.Next(0x20, 0x7F),
            });
        }

        return builder.ToString();
    }

    /// <summary>Text mutated as characters: inserted, deleted, replaced, truncated, or an interesting string spliced in.</summary>
    public string MutateText(string input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var builder = new StringBuilder(input);
        var edits = _random.Next(1, 4);
        for (var e = 0; e < edits; e++)
        {
            var at = builder.Length == 0 ? 0 : _random.Next(builder.Length);
            switch (_random.Next(4))
            {
                case 0:
                    builder.Insert(at, Text(4));
                    break;
                case 1 when builder.Length > 0:
                    builder.Remove(at, Math.Min(builder.Length - at, _random.Next(1, 6)));
                    break;
                case 2:
                    builder.Length = at;
                    break;
                default:
                    if (builder.Length > 0)
                    {
                        builder[at] = (char)_random.Next(0x20, 0x7F);
                    }

                    break;
            }
        }

        return builder.ToString();
    }

    /// <summary>A random JSON value of at most <paramref name="depth"/> levels: boundary numbers, odd strings, nesting.</summary>
    public JsonNode? JsonValue(int depth = 2)
    {
        switch (_random.Next(depth > 0 ? 8 : 6))
        {
            case 0:
                return null;
            case 1:
                return JsonValue<bool>(Chance(0.5));
            case 2:
            case 3:
                return JsonNode.Parse(Pick(InterestingNumbers) is var n && n == "1e999" ? "1e308" : n);
            case 4:
                return JsonValue<long>(_random.NextInt64(-1000, 100_000));
            case 5:
                return JsonValue<string>(WellFormed(Text()));
            case 6:
                var array = new JsonArray();
                for (var i = _random.Next(4); i > 0; i--)
                {
                    array.Add(JsonValue(depth - 1));
                }

                return array;
            default:
                var obj = new JsonObject();
                for (var i = _random.Next(4); i > 0; i--)
                {
                    obj[Chance(0.5) ? WellFormed(Text(8)) : Pick<string>(["id", "role", "content", "type", "text", "value", "model"])] = JsonValue(depth - 1);
                }

                return obj;
        }

        static JsonNode JsonValue<T>(T value) => System.Text.Json.Nodes.JsonValue.Create(value)!;
    }

    /// <summary>
    /// <paramref name="json"/> with one to three structural edits: a value replaced by another type, a property removed
    /// or added (from <paramref name="names"/> or random), an array emptied or grown; sometimes a byte-level edit.
    /// </summary>
    public string MutateJson(string json, IReadOnlyList<string>? names = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (Chance(0.15))
        {
            return Encoding.UTF8.GetString(Mutate(Encoding.UTF8.GetBytes(json)));
        }

        var root = JsonNode.Parse(json);
        if (root is null)
        {
            return "null";
        }

        var edits = _random.Next(1, 4);
        for (var e = 0; e < edits; e++)
        {
            var nodes = new List<JsonNode>();
            Collect(root, nodes);
            var target = Pick(nodes);
            switch (_random.Next(5))
            {
                case 0 when target.Parent is JsonObject parent:
                    parent.Remove(target.GetPropertyName());
                    break;
                case 1 when target is JsonObject obj:
                    obj[names is { Count: > 0 } && Chance(0.7) ? Pick(names) : WellFormed(Text(8))] = JsonValue();
                    break;
                case 2 when target is JsonArray array:
                    if (Chance(0.5))
                    {
                        array.Clear();
                    }
                    else
                    {
                        array.Add(JsonValue());
                    }

                    break;
                default:
                    if (target.Parent is JsonObject owner)
                    {
                        owner[target.GetPropertyName()] = JsonValue();
                    }
                    else if (target.Parent is JsonArray list)
                    {
                        list[target.GetElementIndex()] = JsonValue();
                    }

                    break;
            }
        }

        return root.ToJsonString();

        static void Collect(JsonNode node, List<JsonNode> into)
        {
            into.Add(node);
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (_, child) in obj.ToList())
                    {
                        if (child is not null)
                        {
                            Collect(child, into);
                        }
                    }

                    break;
                case JsonArray array:
                    foreach (var child in array.ToList())
                    {
                        if (child is not null)
                        {
                            Collect(child, into);
                        }
                    }

                    break;
            }
        }
    }
}

/// <summary>A property failed for one generated case; the message names the seed, the case and the input.</summary>
public sealed class FuzzCaseException(string message, Exception inner) : Exception(message, inner);
