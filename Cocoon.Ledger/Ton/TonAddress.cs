using System.Buffers.Binary;
using System.Globalization;

namespace Cocoon.Ledger.Ton;

/// <summary>A standard TON address (addr_std without anycast): a workchain and a 256-bit account hash.</summary>
public sealed class TonAddress : IEquatable<TonAddress>
{
    private const byte BounceableTag = 0x11;
    private const byte NonBounceableTag = 0x51;
    private const byte TestOnlyFlag = 0x80;

    private readonly byte[] _hash;

    public TonAddress(int workchain, ReadOnlySpan<byte> hash)
    {
        if (hash.Length != 32)
        {
            throw new TonFormatException($"An account hash is 32 bytes, got {hash.Length}.");
        }

        if (workchain is < sbyte.MinValue or > sbyte.MaxValue)
        {
            throw new TonFormatException($"Workchain {workchain} does not fit in int8.");
        }

        Workchain = workchain;
        _hash = hash.ToArray();
    }

    public int Workchain { get; }

    public ReadOnlySpan<byte> Hash => _hash;

    /// <summary>Parses a raw (<c>0:hex</c>) or user-friendly (base64 / base64url, 48 characters) address.</summary>
    public static TonAddress Parse(string text) => ParseWithFlags(text).Address;

    public static bool TryParse(string? text, out TonAddress? address)
    {
        try
        {
            address = text is null ? null : Parse(text);
            return address is not null;
        }
        catch (TonFormatException)
        {
            address = null;
            return false;
        }
    }

    /// <summary>Parses and also reports the user-friendly flags (raw addresses report bounceable, not test-only).</summary>
    public static (TonAddress Address, bool Bounceable, bool TestOnly) ParseWithFlags(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Contains(':', StringComparison.Ordinal) ? (ParseRaw(text), true, false) : ParseFriendly(text);
    }

    public static TonAddress ParseRaw(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || !int.TryParse(text.AsSpan(0, colon), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var wc))
        {
            throw new TonFormatException($"A raw address is 'workchain:hex64'; '{text}' has no valid workchain.");
        }

        var hex = text.AsSpan(colon + 1);
        if (hex.Length != 64)
        {
            throw new TonFormatException($"A raw address has 64 hex digits after the colon; got {hex.Length}.");
        }

        byte[] hash;
        try
        {
            hash = Convert.FromHexString(hex);
        }
        catch (FormatException e)
        {
            throw new TonFormatException("A raw address hash must be hexadecimal.", e);
        }

        return new TonAddress(wc, hash);
    }

    public static (TonAddress Address, bool Bounceable, bool TestOnly) ParseFriendly(string text)
    {
        if (text.Length != 48)
        {
            throw new TonFormatException($"A user-friendly address is 48 characters; got {text.Length}.");
        }

        var standard = text.Replace('-', '+').Replace('_', '/');
        Span<byte> bytes = stackalloc byte[36];
        if (!Convert.TryFromBase64String(standard, bytes, out var written) || written != 36)
        {
            throw new TonFormatException("A user-friendly address must be 36 bytes of base64 or base64url.");
        }

        var expected = Crc16.Xmodem(bytes[..34]);
        var actual = BinaryPrimitives.ReadUInt16BigEndian(bytes[34..]);
        if (expected != actual)
        {
            throw new TonFormatException($"Address checksum mismatch (CRC16 is {actual:x4}, expected {expected:x4}).");
        }

        var tag = bytes[0];
        var testOnly = (tag & TestOnlyFlag) != 0;
        var bounceable = (tag & ~TestOnlyFlag) switch
        {
            BounceableTag => true,
            NonBounceableTag => false,
            _ => throw new TonFormatException($"Unknown address tag 0x{tag:x2} (expected 0x11 or 0x51, optionally | 0x80)."),
        };
        return (new TonAddress((sbyte)bytes[1], bytes.Slice(2, 32)), bounceable, testOnly);
    }

    public string ToRaw() => $"{Workchain.ToString(CultureInfo.InvariantCulture)}:{Convert.ToHexStringLower(_hash)}";

    public string ToFriendly(bool bounceable = true, bool testOnly = false, bool urlSafe = true)
    {
        Span<byte> bytes = stackalloc byte[36];
        bytes[0] = (byte)((bounceable ? BounceableTag : NonBounceableTag) | (testOnly ? TestOnlyFlag : 0));
        bytes[1] = (byte)(sbyte)Workchain;
        _hash.CopyTo(bytes[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(bytes[34..], Crc16.Xmodem(bytes[..34]));
        var text = Convert.ToBase64String(bytes);
        return urlSafe ? text.Replace('+', '-').Replace('/', '_') : text;
    }

    public override string ToString() => ToFriendly();

    public bool Equals(TonAddress? other) =>
        other is not null && other.Workchain == Workchain && other._hash.AsSpan().SequenceEqual(_hash);

    public override bool Equals(object? obj) => obj is TonAddress other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Workchain, BinaryPrimitives.ReadInt32LittleEndian(_hash));

    public static bool operator ==(TonAddress? left, TonAddress? right) => left?.Equals(right) ?? right is null;

    public static bool operator !=(TonAddress? left, TonAddress? right) => !(left == right);
}

/// <summary>CRC16-XMODEM (polynomial 0x1021, initial 0), the checksum of user-friendly addresses.</summary>
internal static class Crc16
{
    public static ushort Xmodem(ReadOnlySpan<byte> data)
    {
        var crc = 0;
        foreach (var b in data)
        {
            crc ^= b << 8;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }
        }

        return (ushort)(crc & 0xFFFF);
    }
}
