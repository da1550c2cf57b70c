using System.Text;

namespace Cocoon.Ledger.Ton;

/// <summary>Reads a cell from the front; every read past the end is a <see cref="TonFormatException"/>.</summary>
public sealed class CellSlice
{
    private readonly Cell _cell;
    private int _bit;
    private int _ref;

    internal CellSlice(Cell cell) => _cell = cell;

    private CellSlice(Cell cell, int bit, int reference)
    {
        _cell = cell;
        _bit = bit;
        _ref = reference;
    }

    public int RemainingBits => _cell.BitLength - _bit;

    public int RemainingRefs => _cell.Refs.Count - _ref;

    public CellSlice Clone() => new(_cell, _bit, _ref);

    public bool LoadBit()
    {
        if (_bit >= _cell.BitLength)
        {
            throw new TonFormatException("Cell underflow: no bits left.");
        }

        var bit = (_cell.Data[_bit / 8] & (0x80 >> (_bit % 8))) != 0;
        _bit++;
        return bit;
    }

    public ulong LoadUInt(int bits)
    {
        if (bits is < 0 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "At most 64 bits.");
        }

        EnsureBits(bits);
        ulong value = 0;
        for (var i = 0; i < bits; i++)
        {
            value = (value << 1) | (LoadBit() ? 1UL : 0UL);
        }

        return value;
    }

    public long LoadInt(int bits)
    {
        var raw = LoadUInt(bits);
        if (bits is > 0 and < 64 && (raw & (1UL << (bits - 1))) != 0)
        {
            raw |= ulong.MaxValue << bits;
        }

        return (long)raw;
    }

    public byte[] LoadBytes(int count)
    {
        EnsureBits(count * 8);
        var bytes = new byte[count];
        for (var i = 0; i < count; i++)
        {
            bytes[i] = (byte)LoadUInt(8);
        }

        return bytes;
    }

    public long LoadCoins()
    {
        var length = (int)LoadUInt(4);
        if (length > 8)
        {
            throw new TonFormatException($"A {length}-byte coin amount does not fit in a long.");
        }

        var value = LoadUInt(length * 8);
        return value > long.MaxValue
            ? throw new TonFormatException("A coin amount does not fit in a long.")
            : (long)value;
    }

    /// <summary>Reads addr_none (returns null) or addr_std without anycast.</summary>
    public TonAddress? LoadAddress()
    {
        var tag = LoadUInt(2);
        switch (tag)
        {
            case 0:
                return null;
            case 2:
                if (LoadBit())
                {
                    throw new TonFormatException("Anycast addresses are not supported.");
                }

                var wc = (int)LoadInt(8);
                return new TonAddress(wc, LoadBytes(32));
            default:
                throw new TonFormatException($"Unsupported address tag {tag} (only addr_none and addr_std).");
        }
    }

    public Cell LoadRef()
    {
        if (_ref >= _cell.Refs.Count)
        {
            throw new TonFormatException("Cell underflow: no references left.");
        }

        return _cell.Refs[_ref++];
    }

    public Cell? LoadMaybeRef() => LoadBit() ? LoadRef() : null;

    public void SkipBits(int bits)
    {
        EnsureBits(bits);
        _bit += bits;
    }

    /// <summary>Reads the remaining bytes and follows ref 0 chains (a "snake" string).</summary>
    public byte[] LoadSnakeBytes()
    {
        using var buffer = new MemoryStream();
        var slice = this;
        while (true)
        {
            if (slice.RemainingBits % 8 != 0)
            {
                throw new TonFormatException("A snake string has a partial byte.");
            }

            buffer.Write(slice.LoadBytes(slice.RemainingBits / 8));
            if (slice.RemainingRefs == 0)
            {
                return buffer.ToArray();
            }

            slice = slice.LoadRef().BeginParse();
        }
    }

    public string LoadSnakeString()
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(LoadSnakeBytes());
        }
        catch (DecoderFallbackException e)
        {
            throw new TonFormatException("A text comment is not valid UTF-8.", e);
        }
    }

    private void EnsureBits(int bits)
    {
        if (bits > RemainingBits)
        {
            throw new TonFormatException($"Cell underflow: {bits} bits wanted, {RemainingBits} left.");
        }
    }
}
