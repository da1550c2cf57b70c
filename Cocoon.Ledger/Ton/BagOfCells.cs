using System.Buffers.Binary;

namespace Cocoon.Ledger.Ton;

/// <summary>Serializes and parses bags of cells (the generic <c>b5ee9c72</c> format) with one root.</summary>
public static class BagOfCells
{
    private const uint Magic = 0xb5ee9c72;

    public static byte[] Serialize(Cell root, bool withIndex = false, bool withCrc32C = true)
    {
        ArgumentNullException.ThrowIfNull(root);
        var cells = TopologicalOrder(root);
        var indexOf = new Dictionary<string, int>(cells.Count);
        for (var i = 0; i < cells.Count; i++)
        {
            indexOf[Convert.ToHexString(cells[i].Hash)] = i;
        }

        var sizeBytes = Math.Max(1, BytesFor((ulong)cells.Count));
        var cellSizes = cells.Select(c => 2 + c.Data.Length + (c.Refs.Count * sizeBytes)).ToArray();
        var totalCellsSize = cellSizes.Sum(s => (long)s);
        var offsetBytes = Math.Max(1, BytesFor((ulong)totalCellsSize));

        using var output = new MemoryStream();
        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(magic, Magic);
        output.Write(magic);
        output.WriteByte((byte)((withIndex ? 0x80 : 0) | (withCrc32C ? 0x40 : 0) | sizeBytes));
        output.WriteByte((byte)offsetBytes);
        WriteUInt(output, (ulong)cells.Count, sizeBytes);
        WriteUInt(output, 1, sizeBytes);
        WriteUInt(output, 0, sizeBytes);
        WriteUInt(output, (ulong)totalCellsSize, offsetBytes);
        WriteUInt(output, 0, sizeBytes);
        if (withIndex)
        {
            long end = 0;
            foreach (var size in cellSizes)
            {
                end += size;
                WriteUInt(output, (ulong)end, offsetBytes);
            }
        }

        foreach (var cell in cells)
        {
            output.WriteByte(cell.D1);
            output.WriteByte(cell.D2);
            output.Write(cell.PaddedData());
            foreach (var r in cell.Refs)
            {
                WriteUInt(output, (ulong)indexOf[Convert.ToHexString(r.Hash)], sizeBytes);
            }
        }

        if (withCrc32C)
        {
            Span<byte> crc = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(crc, Crc32C.Compute(output.GetBuffer().AsSpan(0, (int)output.Length)));
            output.Write(crc);
        }

        return output.ToArray();
    }

    /// <summary>Parses a bag of cells that must have exactly one root.</summary>
    public static Cell ParseSingleRoot(ReadOnlySpan<byte> boc)
    {
        var roots = Parse(boc);
        return roots.Count == 1 ? roots[0] : throw new TonFormatException($"Expected one root cell, found {roots.Count}.");
    }

    public static IReadOnlyList<Cell> Parse(ReadOnlySpan<byte> boc)
    {
        var reader = new Reader(boc);
        if (reader.UInt(4, "magic") != Magic)
        {
            throw new TonFormatException("Not a bag of cells: the magic is not b5ee9c72.");
        }

        var flags = reader.Byte("flags");
        var hasIndex = (flags & 0x80) != 0;
        var hasCrc = (flags & 0x40) != 0;
        var hasCacheBits = (flags & 0x20) != 0;
        var sizeBytes = flags & 0x07;
        if ((flags & 0x18) != 0)
        {
            throw new TonFormatException("Bag of cells: reserved flag bits are set.");
        }

        if (sizeBytes is < 1 or > 4)
        {
            throw new TonFormatException($"Bag of cells: reference size {sizeBytes} is outside 1..4.");
        }

        if (hasCacheBits && !hasIndex)
        {
            throw new TonFormatException("Bag of cells: cache bits require an index.");
        }

        var offsetBytes = reader.Byte("offset size");
        if (offsetBytes is < 1 or > 8)
        {
            throw new TonFormatException($"Bag of cells: offset size {offsetBytes} is outside 1..8.");
        }

        var cellCount = reader.UInt(sizeBytes, "cell count");
        var rootCount = reader.UInt(sizeBytes, "root count");
        var absent = reader.UInt(sizeBytes, "absent count");
        var totalCellsSize = reader.UInt(offsetBytes, "total cells size");
        if (rootCount < 1 || rootCount > cellCount)
        {
            throw new TonFormatException($"Bag of cells: {rootCount} roots for {cellCount} cells.");
        }

        if (absent != 0)
        {
            throw new TonFormatException("Bag of cells: absent cells are not supported.");
        }

        // Every cell takes at least 2 bytes, so a count larger than the input is a lie, not a big allocation.
        if (cellCount > (ulong)boc.Length / 2 || totalCellsSize > (ulong)boc.Length)
        {
            throw new TonFormatException($"Bag of cells: {cellCount} cells / {totalCellsSize} bytes do not fit in {boc.Length} bytes (truncated or corrupt).");
        }

        var count = (int)cellCount;
        var rootIndexes = new int[(int)rootCount];
        for (var i = 0; i < rootIndexes.Length; i++)
        {
            var index = reader.UInt(sizeBytes, "root index");
            rootIndexes[i] = index < cellCount ? (int)index : throw new TonFormatException($"Bag of cells: root index {index} is out of range.");
        }

        if (hasIndex)
        {
            reader.Skip(count * offsetBytes, "index");
        }

        var cellsStart = reader.Position;
        var descriptors = new (byte[] Data, int Bits, int[] Refs)[count];
        for (var i = 0; i < count; i++)
        {
            var d1 = reader.Byte("cell descriptor");
            var d2 = reader.Byte("cell descriptor");
            if ((d1 & 0x08) != 0)
            {
                throw new TonFormatException($"Bag of cells: cell {i} is exotic; only ordinary cells are supported.");
            }

            if ((d1 & 0x10) != 0 || d1 >> 5 != 0)
            {
                throw new TonFormatException($"Bag of cells: cell {i} has stored hashes or a non-zero level, unsupported here.");
            }

            var refCount = d1 & 0x07;
            if (refCount > Cell.MaxRefs)
            {
                throw new TonFormatException($"Bag of cells: cell {i} claims {refCount} references.");
            }

            var dataLength = (d2 + 1) / 2;
            var data = reader.Bytes(dataLength, "cell data").ToArray();
            var bits = dataLength * 8;
            if (d2 % 2 == 1)
            {
                var last = data[^1];
                if (last == 0)
                {
                    throw new TonFormatException($"Bag of cells: cell {i} has a padded byte without its completion tag.");
                }

                var trailing = System.Numerics.BitOperations.TrailingZeroCount(last);
                bits -= trailing + 1;
                data[^1] = (byte)(last & ~(1 << trailing));
            }

            var refs = new int[refCount];
            for (var r = 0; r < refCount; r++)
            {
                var target = reader.UInt(sizeBytes, "reference");
                if (target >= cellCount)
                {
                    throw new TonFormatException($"Bag of cells: cell {i} references cell {target}, but there are only {cellCount}.");
                }

                if (target <= (ulong)i)
                {
                    throw new TonFormatException($"Bag of cells: cell {i} references cell {target}, which is not after it (a cycle or a back reference).");
                }

                refs[r] = (int)target;
            }

            descriptors[i] = (data, bits, refs);
        }

        if ((ulong)(reader.Position - cellsStart) != totalCellsSize)
        {
            throw new TonFormatException($"Bag of cells: the cells take {reader.Position - cellsStart} bytes, the header says {totalCellsSize}.");
        }

        if (hasCrc)
        {
            var expected = Crc32C.Compute(boc[..reader.Position]);
            var actual = BinaryPrimitives.ReadUInt32LittleEndian(reader.Bytes(4, "CRC32-C"));
            if (expected != actual)
            {
                throw new TonFormatException($"Bag of cells: CRC32-C mismatch (stored {actual:x8}, computed {expected:x8}).");
            }
        }

        if (reader.Position != boc.Length)
        {
            throw new TonFormatException($"Bag of cells: {boc.Length - reader.Position} unexpected bytes after the end.");
        }

        var cells = new Cell[count];
        for (var i = count - 1; i >= 0; i--)
        {
            var (data, bits, refs) = descriptors[i];
            cells[i] = new Cell(data, bits, [.. refs.Select(r => cells[r])]);
        }

        return [.. rootIndexes.Select(r => cells[r])];
    }

    /// <summary>
    /// Parents before children, deduplicated by hash, in the same order as the reference implementation
    /// (breadth-first discovery, then reverse post-order), so our bytes match its bytes.
    /// </summary>
    private static List<Cell> TopologicalOrder(Cell root)
    {
        var discovered = new List<Cell>();
        var seen = new HashSet<string>();
        var pending = new List<Cell> { root };
        while (pending.Count > 0)
        {
            var next = new List<Cell>();
            foreach (var cell in pending)
            {
                if (seen.Add(Convert.ToHexString(cell.Hash)))
                {
                    discovered.Add(cell);
                    next.AddRange(cell.Refs);
                }
            }

            pending = next;
        }

        var done = new HashSet<string>();
        var postOrder = new List<Cell>(discovered.Count);
        foreach (var start in discovered)
        {
            Visit(start);
        }

        postOrder.Reverse();
        return postOrder;

        void Visit(Cell cell)
        {
            if (!done.Add(Convert.ToHexString(cell.Hash)))
            {
                return;
            }

            for (var i = cell.Refs.Count - 1; i >= 0; i--)
            {
                Visit(cell.Refs[i]);
            }

            postOrder.Add(cell);
        }
    }

    private static int BytesFor(ulong value)
    {
        var bits = 0;
        for (; value != 0; value >>= 1)
        {
            bits++;
        }

        return (bits + 7) / 8;
    }

    private static void WriteUInt(Stream output, ulong value, int bytes)
    {
        for (var i = bytes - 1; i >= 0; i--)
        {
            output.WriteByte((byte)(value >> (i * 8)));
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public byte Byte(string what) => Bytes(1, what)[0];

        public ulong UInt(int bytes, string what)
        {
            ulong value = 0;
            foreach (var b in Bytes(bytes, what))
            {
                value = (value << 8) | b;
            }

            return value;
        }

        public void Skip(int bytes, string what) => Bytes(bytes, what);

        public ReadOnlySpan<byte> Bytes(int count, string what)
        {
            if (count < 0 || Position + count > _data.Length)
            {
                throw new TonFormatException($"Bag of cells truncated: {what} needs {count} bytes at offset {Position}, {_data.Length - Position} left.");
            }

            var slice = _data.Slice(Position, count);
            Position += count;
            return slice;
        }
    }
}
