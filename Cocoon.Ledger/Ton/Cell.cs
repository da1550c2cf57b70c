using System.Security.Cryptography;

namespace Cocoon.Ledger.Ton;

/// <summary>An ordinary TON cell: up to 1023 data bits and up to 4 references. Immutable.</summary>
public sealed class Cell
{
    public const int MaxBits = 1023;
    public const int MaxRefs = 4;

    private readonly byte[] _data;
    private byte[]? _hash;
    private int _depth = -1;

    /// <param name="data">Bits, most significant first; bits past <paramref name="bitLength"/> must be zero.</param>
    internal Cell(byte[] data, int bitLength, Cell[] refs)
    {
        if (bitLength is < 0 or > MaxBits)
        {
            throw new TonFormatException($"A cell holds at most {MaxBits} bits, got {bitLength}.");
        }

        if (refs.Length > MaxRefs)
        {
            throw new TonFormatException($"A cell holds at most {MaxRefs} references, got {refs.Length}.");
        }

        _data = data;
        BitLength = bitLength;
        Refs = refs;
    }

    public static Cell Empty { get; } = new([], 0, []);

    public int BitLength { get; }

    public IReadOnlyList<Cell> Refs { get; }

    /// <summary>The data bytes, ceil(bits/8) long, without the completion tag.</summary>
    public ReadOnlySpan<byte> Data => _data;

    /// <summary>The representation hash (SHA-256) of an ordinary cell.</summary>
    public ReadOnlySpan<byte> Hash => _hash ??= ComputeHash();

    public int Depth
    {
        get
        {
            if (_depth < 0)
            {
                var depth = 0;
                foreach (var r in Refs)
                {
                    depth = Math.Max(depth, r.Depth + 1);
                }

                _depth = depth;
            }

            return _depth;
        }
    }

    public CellSlice BeginParse() => new(this);

    public byte[] ToBoc(bool withIndex = false, bool withCrc32C = true) => BagOfCells.Serialize(this, withIndex, withCrc32C);

    public string ToBocBase64() => Convert.ToBase64String(ToBoc());

    public static Cell FromBoc(ReadOnlySpan<byte> boc) => BagOfCells.ParseSingleRoot(boc);

    public static Cell FromBocBase64(string base64)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(base64);
        }
        catch (FormatException e)
        {
            throw new TonFormatException("A bag of cells in base64 is not valid base64.", e);
        }

        return BagOfCells.ParseSingleRoot(bytes);
    }

    /// <summary>d1: reference count (ordinary cell, level 0).</summary>
    internal byte D1 => (byte)Refs.Count;

    /// <summary>d2: floor(bits/8) + ceil(bits/8), odd when the last byte is padded.</summary>
    internal byte D2 => (byte)((BitLength / 8) + ((BitLength + 7) / 8));

    /// <summary>The data with the completion tag (a 1 bit then zeros) when bits are not a whole number of bytes.</summary>
    internal byte[] PaddedData()
    {
        var bytes = (byte[])_data.Clone();
        if (BitLength % 8 != 0)
        {
            bytes[BitLength / 8] |= (byte)(0x80 >> (BitLength % 8));
        }

        return bytes;
    }

    private byte[] ComputeHash()
    {
        var padded = PaddedData();
        var buffer = new byte[2 + padded.Length + (Refs.Count * 34)];
        buffer[0] = D1;
        buffer[1] = D2;
        padded.CopyTo(buffer, 2);
        var offset = 2 + padded.Length;
        foreach (var r in Refs)
        {
            buffer[offset++] = (byte)(r.Depth >> 8);
            buffer[offset++] = (byte)r.Depth;
        }

        foreach (var r in Refs)
        {
            r.Hash.CopyTo(buffer.AsSpan(offset));
            offset += 32;
        }

        return SHA256.HashData(buffer);
    }
}
