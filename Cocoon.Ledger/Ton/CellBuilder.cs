using System.Numerics;
using System.Text;

namespace Cocoon.Ledger.Ton;

/// <summary>Builds one cell bit by bit; <see cref="EndCell"/> freezes it.</summary>
public sealed class CellBuilder
{
    private readonly byte[] _data = new byte[128];
    private readonly List<Cell> _refs = new(Cell.MaxRefs);

    public int BitLength { get; private set; }

    public int RefCount => _refs.Count;

    public int AvailableBits => Cell.MaxBits - BitLength;

    public int AvailableRefs => Cell.MaxRefs - _refs.Count;

    public CellBuilder StoreBit(bool bit)
    {
        if (BitLength >= Cell.MaxBits)
        {
            throw new TonFormatException($"Cell overflow: more than {Cell.MaxBits} bits.");
        }

        if (bit)
        {
            _data[BitLength / 8] |= (byte)(0x80 >> (BitLength % 8));
        }

        BitLength++;
        return this;
    }

    public CellBuilder StoreBits(ReadOnlySpan<byte> source, int bitCount)
    {
        EnsureBits(bitCount);
        for (var i = 0; i < bitCount; i++)
        {
            StoreBit((source[i / 8] & (0x80 >> (i % 8))) != 0);
        }

        return this;
    }

    public CellBuilder StoreBytes(ReadOnlySpan<byte> bytes) => StoreBits(bytes, bytes.Length * 8);

    public CellBuilder StoreUInt(ulong value, int bits)
    {
        if (bits is < 0 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "Use StoreBigUInt above 64 bits.");
        }

        if (bits < 64 && value >> bits != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"Value does not fit in {bits} unsigned bits.");
        }

        EnsureBits(bits);
        for (var i = bits - 1; i >= 0; i--)
        {
            StoreBit(((value >> i) & 1) != 0);
        }

        return this;
    }

    public CellBuilder StoreInt(long value, int bits)
    {
        if (bits is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "Signed fields are 1..64 bits here.");
        }

        if (bits < 64)
        {
            var min = -(1L << (bits - 1));
            var max = (1L << (bits - 1)) - 1;
            if (value < min || value > max)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"Value does not fit in {bits} signed bits.");
            }
        }

        var raw = bits == 64 ? (ulong)value : (ulong)value & ((1UL << bits) - 1);
        return StoreUInt(raw, bits);
    }

    public CellBuilder StoreBigUInt(BigInteger value, int bits)
    {
        if (value.Sign < 0 || value.GetBitLength() > bits)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"Value does not fit in {bits} unsigned bits.");
        }

        EnsureBits(bits);
        for (var i = bits - 1; i >= 0; i--)
        {
            StoreBit(!((value >> i) & BigInteger.One).IsZero);
        }

        return this;
    }

    /// <summary>Grams / Coins: VarUInteger 16 (a 4-bit byte length, then that many bytes, big-endian).</summary>
    public CellBuilder StoreCoins(long nanotons)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nanotons);
        var length = 0;
        for (var v = (ulong)nanotons; v != 0; v >>= 8)
        {
            length++;
        }

        StoreUInt((ulong)length, 4);
        return length == 0 ? this : StoreUInt((ulong)nanotons, length * 8);
    }

    /// <summary>addr_std without anycast, or addr_none (<c>00</c>) for null.</summary>
    public CellBuilder StoreAddress(TonAddress? address)
    {
        if (address is null)
        {
            return StoreUInt(0, 2);
        }

        StoreUInt(0b100, 3);
        StoreInt(address.Workchain, 8);
        return StoreBytes(address.Hash);
    }

    public CellBuilder StoreRef(Cell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        if (_refs.Count >= Cell.MaxRefs)
        {
            throw new TonFormatException($"Cell overflow: more than {Cell.MaxRefs} references.");
        }

        _refs.Add(cell);
        return this;
    }

    public CellBuilder StoreMaybeRef(Cell? cell) => cell is null ? StoreBit(false) : StoreBit(true).StoreRef(cell);

    /// <summary>Copies the bits and references of another cell (or the rest of a slice) into this one.</summary>
    public CellBuilder StoreSlice(CellSlice slice)
    {
        var copy = slice.Clone();
        var bits = copy.RemainingBits;
        EnsureBits(bits);
        for (var i = 0; i < bits; i++)
        {
            StoreBit(copy.LoadBit());
        }

        while (copy.RemainingRefs > 0)
        {
            StoreRef(copy.LoadRef());
        }

        return this;
    }

    public CellBuilder StoreCell(Cell cell) => StoreSlice(cell.BeginParse());

    /// <summary>Stores bytes, continuing in a chain of ref-0 cells when this one is full (a "snake" string).</summary>
    public CellBuilder StoreSnakeBytes(ReadOnlySpan<byte> bytes)
    {
        var fit = Math.Min(bytes.Length, AvailableBits / 8);
        StoreBytes(bytes[..fit]);
        if (fit < bytes.Length)
        {
            StoreRef(new CellBuilder().StoreSnakeBytes(bytes[fit..]).EndCell());
        }

        return this;
    }

    public CellBuilder StoreSnakeString(string text) => StoreSnakeBytes(Encoding.UTF8.GetBytes(text));

    public Cell EndCell() => new(_data.AsSpan(0, (BitLength + 7) / 8).ToArray(), BitLength, [.. _refs]);

    private void EnsureBits(int bits)
    {
        if (bits > AvailableBits)
        {
            throw new TonFormatException($"Cell overflow: {bits} more bits do not fit in the {AvailableBits} left.");
        }
    }
}
