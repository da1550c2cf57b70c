using Cocoon.Ledger.Ton;

namespace Cocoon.Ledger.Tests.Ton;

public sealed class TonBadInputTests
{
    private const string Friendly = "EQD3LfEIEqo4STildnMnRfK1IRfKz6SoQDBBHCzdutsH-4Di";

    [Fact]
    public void Address_with_wrong_checksum_is_rejected()
    {
        var broken = Friendly[..^1] + "j";
        var e = Assert.Throws<TonFormatException>(() => TonAddress.Parse(broken));
        Assert.Contains("checksum", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("EQD3LfEIEqo4STildnMnRfK1IRfKz6SoQDBBHCzdutsH-4D", "48 characters")]
    [InlineData("0:f72df10812aa384938a576732745f2b52117cacfa4a84030411c2cddbadb07", "64 hex digits")]
    [InlineData("x:f72df10812aa384938a576732745f2b52117cacfa4a84030411c2cddbadb07fb", "workchain")]
    [InlineData("0:zz2df10812aa384938a576732745f2b52117cacfa4a84030411c2cddbadb07fb", "hexadecimal")]
    [InlineData("EQD3LfEIEqo4STildnMnRfK1IRfKz6SoQDBBHCzdutsH!4Di", "base64")]
    public void Malformed_addresses_say_what_is_wrong(string text, string expected)
    {
        var e = Assert.Throws<TonFormatException>(() => TonAddress.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Address_with_unknown_tag_is_rejected()
    {
        var bytes = Convert.FromBase64String(Friendly.Replace('-', '+').Replace('_', '/'));
        bytes[0] = 0x22;
        var crc = Crc16.Xmodem(bytes.AsSpan(0, 34));
        bytes[34] = (byte)(crc >> 8);
        bytes[35] = (byte)crc;
        var e = Assert.Throws<TonFormatException>(() => TonAddress.Parse(Convert.ToBase64String(bytes)));
        Assert.Contains("tag", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_boc_is_rejected_at_every_length()
    {
        var boc = Sample().ToBoc(withIndex: true, withCrc32C: true);
        for (var n = 0; n < boc.Length; n++)
        {
            var e = Assert.Throws<TonFormatException>(() => BagOfCells.Parse(boc.AsSpan(0, n)));
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }
    }

    [Fact]
    public void Wrong_crc_is_rejected()
    {
        var boc = Sample().ToBoc(withCrc32C: true);
        boc[^6] ^= 0x01;
        var e = Assert.Throws<TonFormatException>(() => BagOfCells.Parse(boc));
        Assert.Contains("CRC32-C", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_magic_is_rejected()
    {
        var boc = Sample().ToBoc();
        boc[0] = 0;
        Assert.Contains("magic", Assert.Throws<TonFormatException>(() => BagOfCells.Parse(boc)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cycle_or_back_reference_is_rejected()
    {
        // root (cell 0) -> child (cell 1); rewrite the child to point back at the root.
        var child = new CellBuilder().StoreUInt(1, 8).StoreRef(Cell.Empty).EndCell();
        var root = new CellBuilder().StoreUInt(2, 8).StoreRef(child).EndCell();
        var boc = root.ToBoc(withCrc32C: false);
        // Header: magic 4, flags 1, offset 1, counts 3, total size 1, root 1 = 11; cell 0 = d1 d2 data ref = 4 bytes; cell 1 same.
        Assert.Equal(1, boc[11 + 3]);
        Assert.Equal(2, boc[15 + 3]);
        boc[15 + 3] = 0;
        var e = Assert.Throws<TonFormatException>(() => BagOfCells.Parse(boc));
        Assert.Contains("cycle", e.Message, StringComparison.Ordinal);
        boc[15 + 3] = 9;
        Assert.Contains("only 3", Assert.Throws<TonFormatException>(() => BagOfCells.Parse(boc)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_sizes_and_trailing_bytes_are_rejected()
    {
        var boc = Sample().ToBoc(withCrc32C: false);
        var trailing = boc.Append((byte)0).ToArray();
        Assert.Contains("unexpected bytes", Assert.Throws<TonFormatException>(() => BagOfCells.Parse(trailing)).Message, StringComparison.Ordinal);
        var hugeCount = (byte[])boc.Clone();
        hugeCount[6] = 0xff;
        Assert.IsType<TonFormatException>(Record.Exception(() => BagOfCells.Parse(hugeCount)));
        var badSize = (byte[])boc.Clone();
        badSize[4] = 0x07;
        Assert.Contains("1..4", Assert.Throws<TonFormatException>(() => BagOfCells.Parse(badSize)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Builder_and_slice_guard_their_limits()
    {
        var b = new CellBuilder().StoreBytes(new byte[127]);
        Assert.Throws<TonFormatException>(() => b.StoreUInt(0, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CellBuilder().StoreUInt(256, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CellBuilder().StoreInt(128, 8));
        var full = new CellBuilder().StoreRef(Cell.Empty).StoreRef(Cell.Empty).StoreRef(Cell.Empty).StoreRef(Cell.Empty);
        Assert.Throws<TonFormatException>(() => full.StoreRef(Cell.Empty));
        var s = new CellBuilder().StoreUInt(5, 3).EndCell().BeginParse();
        Assert.Equal(5UL, s.LoadUInt(3));
        Assert.Throws<TonFormatException>(() => s.LoadBit());
        Assert.Throws<TonFormatException>(() => s.LoadRef());
    }

    [Fact]
    public void Slice_reads_back_what_the_builder_wrote()
    {
        var addr = TonAddress.Parse(Friendly);
        var cell = new CellBuilder().StoreInt(-3, 7).StoreCoins(123_456_789_000).StoreAddress(addr).StoreAddress(null).StoreMaybeRef(Cell.Empty).StoreMaybeRef(null).EndCell();
        var s = cell.BeginParse();
        Assert.Equal(-3, s.LoadInt(7));
        Assert.Equal(123_456_789_000, s.LoadCoins());
        Assert.Equal(addr, s.LoadAddress());
        Assert.Null(s.LoadAddress());
        Assert.NotNull(s.LoadMaybeRef());
        Assert.Null(s.LoadMaybeRef());
        Assert.Equal(0, s.RemainingBits);
    }

    private static Cell Sample() =>
        new CellBuilder().StoreUInt(0xdeadbeef, 32).StoreRef(new CellBuilder().StoreUInt(7, 5).EndCell()).StoreRef(TonMessages.Comment("x")).EndCell();
}
