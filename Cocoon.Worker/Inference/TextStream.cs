using System.Runtime.CompilerServices;
using System.Text;

namespace Cocoon.Worker.Inference;

/// <summary>
/// Turns token bytes into text pieces for one sequence: holds back an incomplete UTF-8 character until its last byte
/// arrives, and holds back text that could be the start of a stop string so the stop text is never emitted.
/// </summary>
internal sealed class TextStream
{
    private readonly Decoder _decoder = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly IReadOnlyList<string> _stops;
    private readonly StringBuilder _pending = new();
    private char[] _chars = new char[64];

    public TextStream(IReadOnlyList<string> stops)
    {
        _stops = stops;
    }

    public bool Stopped { get; private set; }

    /// <summary>Adds a token's bytes; returns the text that is now safe to emit (maybe empty).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string Push(ReadOnlySpan<byte> bytes)
    {
        if (Stopped)
        {
            return string.Empty;
        }

        var count = _decoder.GetCharCount(bytes, flush: false);
        if (_chars.Length < count)
        {
            _chars = new char[Math.Max(count, _chars.Length * 2)];
        }

        var n = _decoder.GetChars(bytes, _chars, flush: false);
        _pending.Append(_chars, 0, n);
        return Drain(final: false);
    }

    /// <summary>At the end of the sequence: what is still held back (an incomplete character becomes U+FFFD).</summary>
    public string Flush()
    {
        if (Stopped)
        {
            return string.Empty;
        }

        var n = _decoder.GetChars(ReadOnlySpan<byte>.Empty, _chars, flush: true);
        _pending.Append(_chars, 0, n);
        return Drain(final: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private string Drain(bool final)
    {
        if (_pending.Length == 0)
        {
            return string.Empty;
        }

        var text = _pending.ToString();
        var cut = -1;
        foreach (var stop in _stops)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
            {
                cut = at;
            }
        }

        if (cut >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return text[..cut];
        }

        var keep = final ? 0 : HeldBack(text);
        _pending.Clear();
        _pending.Append(text, text.Length - keep, keep);
        return text[..^keep];
    }

    // The longest tail of the text that is a proper prefix of some stop string.
    private int HeldBack(string text)
    {
        var keep = 0;
        foreach (var stop in _stops)
        {
            for (var len = Math.Min(stop.Length - 1, text.Length); len > keep; len--)
            {
                if (text.AsSpan(text.Length - len).SequenceEqual(stop.AsSpan(0, len)))
                {
                    keep = len;
                    break;
                }
            }
        }

        return keep;
    }
}
