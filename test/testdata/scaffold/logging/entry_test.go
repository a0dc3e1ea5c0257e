package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		entry LogEntry
	}{
		{"empty", LogEntry{}},
		{"stdout line", LogEntry{Source: "stdout", TimeNano: 1733290000123456789, Line: []byte("hello")}},
		{"stderr line", LogEntry{Source: "stderr", TimeNano: 1, Line: []byte("oops")}},
		{"negative time", LogEntry{Source: "stdout", TimeNano: -5, Line: []byte("x")}},
		{"binary line", LogEntry{Source: "stdout", Line: []byte{0, 0xff, '\n', 0x80}}},
		{"long line", LogEntry{Source: "stdout", Line: bytes.Repeat([]byte("a"), 16<<10)}},
		{"partial", LogEntry{Source: "stdout", Line: []byte("part"), Partial: true,
			PartialMetadata: &PartialMetadata{ID: "abc", Ordinal: 2}}},
		{"last partial", LogEntry{Source: "stdout", Line: []byte("end"),
			PartialMetadata: &PartialMetadata{Last: true, ID: "abc", Ordinal: 3}}},
		{"negative ordinal", LogEntry{PartialMetadata: &PartialMetadata{Ordinal: -1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got LogEntry
			if err := got.UnmarshalProto(tt.entry.MarshalProto()); err != nil {
				t.Fatal(err)
			}
			if len(tt.entry.Line) == 0 {
				tt.entry.Line = nil
			}
			if !reflect.DeepEqual(got, tt.entry) {
				t.Errorf("round trip: got %+v, want %+v", got, tt.entry)
			}
		})
	}
}

// The bytes protoc's encoder produces for this entry, worked out by hand from the protobuf encoding rules.
func TestEntryWireFormat(t *testing.T) {
	e := LogEntry{Source: "stdout", TimeNano: 300, Line: []byte("hi"), Partial: true,
		PartialMetadata: &PartialMetadata{Last: true, ID: "p", Ordinal: 1}}
	want := []byte{
		0x0a, 6, 's', 't', 'd', 'o', 'u', 't', // 1: source
		0x10, 0xac, 0x02, // 2: time_nano 300 as a varint
		0x1a, 2, 'h', 'i', // 3: line
		0x20, 1, // 4: partial
		0x2a, 7, 0x08, 1, 0x12, 1, 'p', 0x18, 1, // 5: partial_log_metadata {last, id, ordinal}
	}
	if got := e.MarshalProto(); !bytes.Equal(got, want) {
		t.Errorf("got % x\nwant % x", got, want)
	}
}

func TestUnmarshalSkipsUnknownFields(t *testing.T) {
	msg := []byte{
		0x0a, 6, 's', 't', 'd', 'e', 'r', 'r',
		0x30, 0x96, 0x01, // 6: varint
		0x39, 1, 2, 3, 4, 5, 6, 7, 8, // 7: fixed64
		0x45, 1, 2, 3, 4, // 8: fixed32
		0x4a, 2, 'z', 'z', // 9: bytes
		0x1a, 1, 'x',
	}
	var e LogEntry
	if err := e.UnmarshalProto(msg); err != nil {
		t.Fatal(err)
	}
	if e.Source != "stderr" || string(e.Line) != "x" {
		t.Errorf("got %+v", e)
	}
}

func TestUnmarshalRefusesBrokenMessages(t *testing.T) {
	for name, msg := range map[string][]byte{
		"cut key":         {0x80},
		"cut varint":      {0x10, 0x80},
		"length past end": {0x1a, 5, 'a'},
		"cut fixed64":     {0x39, 1, 2},
		"group wire type": {0x0b},
		"field number 0":  {0x00, 1},
		"broken metadata": {0x2a, 2, 0x12, 5},
		"huge length":     {0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		var e LogEntry
		if err := e.UnmarshalProto(msg); err == nil {
			t.Errorf("%s: decoded % x without an error: %+v", name, msg, e)
		}
	}
}

func TestFrames(t *testing.T) {
	entries := []LogEntry{
		{Source: "stdout", TimeNano: 1, Line: []byte("one")},
		{Source: "stderr", TimeNano: 2, Line: []byte("two")},
		{Source: "stdout", TimeNano: 3},
	}
	var stream []byte
	for i := range entries {
		stream = appendFrame(stream, &entries[i])
	}
	r := bytes.NewReader(stream)
	for i, want := range entries {
		msg, err := readFrame(r, nil)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		var got LogEntry
		if err := got.UnmarshalProto(msg); err != nil {
			t.Fatal(err)
		}
		if got.Source != want.Source || got.TimeNano != want.TimeNano || string(got.Line) != string(want.Line) {
			t.Errorf("frame %d: got %+v, want %+v", i, got, want)
		}
	}
	if _, err := readFrame(r, nil); err != io.EOF {
		t.Errorf("after the last frame: got %v, want io.EOF", err)
	}
}

func TestReadFrameErrors(t *testing.T) {
	cut := appendFrame(nil, &LogEntry{Source: "stdout", Line: []byte("hello")})
	if _, err := readFrame(bytes.NewReader(cut[:len(cut)-1]), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("frame cut in its body: got %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := readFrame(bytes.NewReader(cut[:2]), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("frame cut in its length: got %v, want io.ErrUnexpectedEOF", err)
	}
	huge := binary.BigEndian.AppendUint32(nil, maxFrameSize+1)
	if _, err := readFrame(bytes.NewReader(huge), nil); err == nil || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("oversized frame: got %v, want a size error", err)
	}
}
