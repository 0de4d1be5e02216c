//! Snapshots, quorum-state and meta.properties on real files: written atomically, read back
//! the same, and damage reported with the file's name instead of being loaded.

// Inside a module named after the file, so `cargo test storage` selects these tests.
mod storage_files {

    use std::path::{Path, PathBuf};

    use keel::storage::meta_properties::{MetaProperties, random_uuid};
    use keel::storage::quorum_state::{QuorumState, Vote};
    use keel::storage::snapshot::{
        SnapshotId, SnapshotReader, SnapshotReceiver, SnapshotWriter, delete_snapshots_before,
        latest_snapshot, list_snapshots,
    };
    use keel::storage::{Log, LogConfig, StorageError};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let base = if Path::new("/dev/shm").is_dir() {
                PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            let dir = base.join(format!("keel-storage-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write_snapshot(dir: &Path, id: SnapshotId, batches: usize) -> Vec<Vec<u8>> {
        let mut writer = SnapshotWriter::create(dir, id).unwrap();
        let mut all = Vec::new();
        for b in 0..batches {
            let records: Vec<Vec<u8>> = (0..3)
                .map(|r| format!("image {b}/{r} {}", "z".repeat(b * 7)).into_bytes())
                .collect();
            let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
            writer.append(123, &refs).unwrap();
            all.extend(records);
        }
        assert!(
            dir.join(format!(
                "{:020}-{:010}.checkpoint.part",
                id.end_offset, id.epoch
            ))
            .exists(),
            "written as .part first"
        );
        assert_eq!(writer.finish().unwrap(), id);
        all
    }

    #[test]
    fn a_snapshot_is_written_listed_read_in_chunks_and_loaded_record_for_record() {
        let dir = TempDir::new("snapshot");
        let id = SnapshotId {
            end_offset: 500,
            epoch: 3,
        };
        let records = write_snapshot(&dir.0, id, 40);
        assert!(
            !dir.0
                .join(format!("{:020}-{:010}.checkpoint.part", 500, 3))
                .exists()
        );
        assert_eq!(list_snapshots(&dir.0).unwrap(), vec![id]);
        let reader = SnapshotReader::open(&dir.0, id).unwrap();
        let loaded: Vec<Vec<u8>> = reader
            .batches()
            .flat_map(|b| b.records().map(|r| r.to_vec()).collect::<Vec<_>>())
            .collect();
        assert_eq!(loaded, records);
        // Chunks by position cover the file exactly, as FetchSnapshot would send it.
        let mut copy = Vec::new();
        while (copy.len() as u64) < reader.size_bytes() {
            copy.extend_from_slice(reader.chunk(copy.len() as u64, 1000).unwrap());
        }
        assert_eq!(copy, std::fs::read(dir.0.join(id.file_name())).unwrap());
        assert!(reader.chunk(reader.size_bytes(), 10).unwrap().is_empty());
        assert!(reader.chunk(reader.size_bytes() + 1, 10).is_err());
    }

    #[test]
    fn a_snapshot_received_in_chunks_is_validated_before_it_gets_its_name() {
        let leader = TempDir::new("snapshot-leader");
        let follower = TempDir::new("snapshot-follower");
        let id = SnapshotId {
            end_offset: 77,
            epoch: 2,
        };
        write_snapshot(&leader.0, id, 10);
        let bytes = std::fs::read(leader.0.join(id.file_name())).unwrap();

        let mut receiver = SnapshotReceiver::create(&follower.0, id).unwrap();
        for chunk in bytes.chunks(333) {
            let position = receiver.size();
            receiver.write_chunk(position, chunk).unwrap();
        }
        assert!(
            receiver.write_chunk(0, b"x").is_err(),
            "chunks must arrive in order"
        );
        assert_eq!(receiver.finish().unwrap(), id);
        assert_eq!(
            std::fs::read(follower.0.join(id.file_name())).unwrap(),
            bytes
        );

        // A damaged transfer never becomes a snapshot.
        let other = SnapshotId {
            end_offset: 78,
            epoch: 2,
        };
        let mut damaged = bytes.clone();
        damaged[100] ^= 4;
        let mut receiver = SnapshotReceiver::create(&follower.0, other).unwrap();
        receiver.write_chunk(0, &damaged).unwrap();
        assert!(matches!(
            receiver.finish(),
            Err(StorageError::BadFile { .. })
        ));
        // Bytes of snapshot 77 offered as snapshot 78: the header names the wrong id.
        let mut receiver = SnapshotReceiver::create(&follower.0, other).unwrap();
        receiver.write_chunk(0, &bytes).unwrap();
        let error = receiver.finish().unwrap_err().to_string();
        assert!(error.contains("file name says"), "{error}");
        assert_eq!(list_snapshots(&follower.0).unwrap(), vec![id]);
        assert!(
            std::fs::read_dir(&follower.0).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".part"))
        );
    }

    #[test]
    fn a_damaged_or_truncated_snapshot_is_refused_with_its_name() {
        let dir = TempDir::new("snapshot-damage");
        let id = SnapshotId {
            end_offset: 9,
            epoch: 1,
        };
        write_snapshot(&dir.0, id, 5);
        let path = dir.0.join(id.file_name());
        let original = std::fs::read(&path).unwrap();
        for (what, bytes) in [
            ("flipped byte", {
                let mut b = original.clone();
                b[original.len() / 2] ^= 1;
                b
            }),
            ("missing footer", original[..original.len() - 24].to_vec()),
            ("truncated", original[..10].to_vec()),
            ("empty", Vec::new()),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            match SnapshotReader::open(&dir.0, id) {
                Err(StorageError::BadFile { path: reported, .. }) => {
                    assert_eq!(reported, path, "{what}")
                }
                Err(other) => panic!("{what}: unexpected error {other}"),
                Ok(_) => panic!("{what}: damaged snapshot opened"),
            }
        }
    }

    #[test]
    fn older_snapshots_are_deleted_and_the_latest_is_found() {
        let dir = TempDir::new("snapshot-retention");
        let ids = [
            SnapshotId {
                end_offset: 10,
                epoch: 1,
            },
            SnapshotId {
                end_offset: 20,
                epoch: 1,
            },
            SnapshotId {
                end_offset: 20,
                epoch: 2,
            },
        ];
        for id in ids {
            write_snapshot(&dir.0, id, 1);
        }
        assert_eq!(latest_snapshot(&dir.0).unwrap(), Some(ids[2]));
        assert_eq!(delete_snapshots_before(&dir.0, ids[2]).unwrap(), 2);
        assert_eq!(list_snapshots(&dir.0).unwrap(), vec![ids[2]]);
    }

    #[test]
    fn a_leftover_partial_snapshot_is_deleted_when_the_log_opens() {
        let dir = TempDir::new("snapshot-part");
        let writer = SnapshotWriter::create(
            &dir.0,
            SnapshotId {
                end_offset: 5,
                epoch: 1,
            },
        )
        .unwrap();
        drop(writer); // crash before finish()
        let log = Log::open(&dir.0, LogConfig::default()).unwrap();
        assert_eq!(log.recovery_report().temp_files_removed.len(), 1);
        assert!(list_snapshots(&dir.0).unwrap().is_empty());
    }

    #[test]
    fn quorum_state_is_replaced_atomically_and_damage_is_reported() {
        let dir = TempDir::new("quorum");
        assert_eq!(QuorumState::read(&dir.0).unwrap(), None);
        let local = random_uuid().unwrap();
        let first = QuorumState {
            epoch: 4,
            voted_for: Some(Vote {
                node_id: 2,
                directory_id: random_uuid().unwrap(),
            }),
            leader_id: None,
            local_directory_id: local,
        };
        first.write(&dir.0).unwrap();
        assert_eq!(QuorumState::read(&dir.0).unwrap(), Some(first));
        let second = QuorumState {
            epoch: 5,
            voted_for: None,
            leader_id: Some(3),
            local_directory_id: local,
        };
        second.write(&dir.0).unwrap();
        assert_eq!(QuorumState::read(&dir.0).unwrap(), Some(second));
        assert!(!dir.0.join("quorum-state.tmp").exists());
        let path = dir.0.join("quorum-state");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[13] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        match QuorumState::read(&dir.0) {
            Err(StorageError::BadFile {
                path: reported,
                reason,
            }) => {
                assert_eq!(reported, path);
                assert!(reason.contains("CRC"), "{reason}");
            }
            other => panic!("damaged quorum-state read as {other:?}"),
        }
        std::fs::write(&path, vec![0u8; 1 << 20]).unwrap();
        assert!(
            matches!(QuorumState::read(&dir.0), Err(StorageError::BadFile { .. })),
            "oversized file refused before reading"
        );
    }

    #[test]
    fn meta_properties_are_written_in_kafkas_format_and_read_back() {
        let dir = TempDir::new("meta");
        assert_eq!(MetaProperties::read(&dir.0).unwrap(), None);
        let meta = MetaProperties {
            cluster_id: "J8qXRwI-Qyi2G0guFTiuYw".to_string(),
            node_id: 1,
            directory_id: random_uuid().unwrap(),
        };
        meta.write(&dir.0).unwrap();
        let text = std::fs::read_to_string(dir.0.join("meta.properties")).unwrap();
        for line in [
            "version=1",
            "cluster.id=J8qXRwI-Qyi2G0guFTiuYw",
            "node.id=1",
            &format!("directory.id={}", meta.directory_id),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing line {line} in {text}"
            );
        }
        assert_eq!(MetaProperties::read(&dir.0).unwrap(), Some(meta));
        std::fs::write(
            dir.0.join("meta.properties"),
            text.replace("node.id=1", "node.id=2"),
        )
        .unwrap();
        assert!(
            MetaProperties::read(&dir.0)
                .unwrap_err()
                .to_string()
                .contains("CRC mismatch")
        );
    }
}
